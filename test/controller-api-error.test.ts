// API errors become one line: the API server's message and the HTTP code, never the client
// library's dump of body and headers (a Pod Security refusal printed that way before).
import { ApiException } from '@kubernetes/client-node';
import t from 'tap';
import { apiStatusCode, describeApiError } from '../controller/cluster/api-error.js';

const body = JSON.stringify({
  kind: 'Status',
  status: 'Failure',
  code: 403,
  reason: 'Forbidden',
  message: 'pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsUser=0 (pod must not set runAsUser=0)',
});

t.test('an ApiException', async (t) => {
  const error = new ApiException(403, 'Unsuccessful HTTP Request', body, { 'audit-id': 'abc' });
  t.equal(describeApiError(error), 'pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsUser=0 (pod must not set runAsUser=0) (HTTP 403)');
  t.equal(apiStatusCode(error), 403);
});

t.test('the same error from another copy of the client library (instanceof fails)', async (t) => {
  const foreign = Object.assign(new Error(`HTTP-Code: 403\nMessage: Unsuccessful HTTP Request\nBody: ${body}\nHeaders: {"audit-id":"abc"}`), {
    code: 403,
    body,
    headers: { 'audit-id': 'abc' },
  });
  const line = describeApiError(foreign);
  t.match(line, /^pods "x" is forbidden: violates PodSecurity/);
  t.notMatch(line, /HTTP-Code|Headers|audit-id|\n/, 'one line, no dump');
  t.equal(apiStatusCode(foreign), 403);
});
