// Name resolution shared by the fake clusters of a test (what cluster DNS and public DNS would give):
// Route hosts -> the destination's router IP, Service DNS names -> cluster IPs.
export class FakeDns {
  private readonly names = new Map<string, string>();

  register(name: string, ip: string): void {
    this.names.set(name.toLowerCase(), ip);
  }

  unregister(name: string): void {
    this.names.delete(name.toLowerCase());
  }

  /** An IP stays as it is; an unknown name stays as it is too (the agent will fail to dial it). */
  resolve(host: string): string {
    return this.names.get(host.toLowerCase()) ?? host;
  }
}
