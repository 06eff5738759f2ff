// Label and field selectors as the API server parses them (the subset clients send in practice:
// =, ==, !=, in, notin, exists, !exists).
type Requirement = (labels: Record<string, string>) => boolean;

export function parseLabelSelector(text: string | null | undefined): Requirement {
  if (!text) return () => true;
  const requirements: Requirement[] = [];
  for (const term of splitTerms(text)) {
    let match: RegExpMatchArray | null;
    if ((match = term.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, key, op, list] = match as unknown as [string, string, string, string];
      const values = list.split(',').map((value) => value.trim());
      requirements.push(
        op === 'in'
          ? (labels) => labels[key] !== undefined && values.includes(labels[key]!)
          : (labels) => labels[key] === undefined || !values.includes(labels[key]!),
      );
    } else if ((match = term.match(/^([^\s!=]+)\s*!=\s*(\S*)$/))) {
      const [, key, value] = match as unknown as [string, string, string];
      requirements.push((labels) => labels[key] !== value);
    } else if ((match = term.match(/^([^\s!=]+)\s*==?\s*(\S*)$/))) {
      const [, key, value] = match as unknown as [string, string, string];
      requirements.push((labels) => labels[key] === value);
    } else if ((match = term.match(/^!([^\s!=]+)$/))) {
      const key = match[1]!;
      requirements.push((labels) => labels[key] === undefined);
    } else if ((match = term.match(/^([^\s!=]+)$/))) {
      const key = match[1]!;
      requirements.push((labels) => labels[key] !== undefined);
    } else {
      throw new SelectorError(`unable to parse requirement: ${term}`);
    }
  }
  return (labels) => requirements.every((requirement) => requirement(labels));
}

/** Field selectors: metadata.name, metadata.namespace, status.phase, spec.nodeName (= and !=). */
export function parseFieldSelector(text: string | null | undefined): (object: Record<string, any>) => boolean {
  if (!text) return () => true;
  const tests = splitTerms(text).map((term) => {
    const match = term.match(/^([a-zA-Z.]+)\s*(!=|==|=)\s*(.*)$/);
    if (!match) throw new SelectorError(`invalid field selector: ${term}`);
    const [, path, op, value] = match as unknown as [string, string, string, string];
    return (object: Record<string, any>) => {
      const actual = path.split('.').reduce<any>((node, key) => (node === undefined || node === null ? undefined : node[key]), object);
      const equal = String(actual ?? '') === value;
      return op === '!=' ? !equal : equal;
    };
  });
  return (object) => tests.every((test) => test(object));
}

export class SelectorError extends Error {}

/** Splits on commas that are not inside "in (...)" lists. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  if (current.trim()) terms.push(current.trim());
  return terms;
}
