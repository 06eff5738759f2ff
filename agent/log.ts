// One pino logger per agent process. Key material and proxy credentials are redacted by path, and
// proxy URLs are passed through redactProxyUrl before they reach a log call.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(role: string, destination: 1 | 2): Logger {
  return pino(
    {
      base: { role },
      level: process.env.DVM_LOG_LEVEL ?? 'info',
      redact: {
        paths: ['*.key', '*.password', '*.token', 'settings.stunnel_tcp_proxy', '*.keyPem', 'authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: destination, sync: true }),
  );
}
