// One error type for bad input: the message is the one line the user sees, naming the key or file.
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
