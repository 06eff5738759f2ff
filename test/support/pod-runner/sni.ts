// Reads the server name (SNI) from a TLS ClientHello, as the OpenShift router does for passthrough
// Routes. Returns undefined while more bytes are needed, null when there is none.
export function readSni(buffer: Buffer): string | null | undefined {
  if (buffer.length < 5) return undefined;
  if (buffer[0] !== 0x16) return null;
  const recordLength = buffer.readUInt16BE(3);
  if (buffer.length < 5 + recordLength) return undefined;
  let offset = 5;
  if (buffer[offset] !== 0x01) return null;
  offset += 4 + 2 + 32;
  offset += 1 + buffer[offset]!;
  offset += 2 + buffer.readUInt16BE(offset);
  offset += 1 + buffer[offset]!;
  if (offset + 2 > 5 + recordLength) return null;
  const extensionsEnd = offset + 2 + buffer.readUInt16BE(offset);
  offset += 2;
  while (offset + 4 <= extensionsEnd) {
    const type = buffer.readUInt16BE(offset);
    const length = buffer.readUInt16BE(offset + 2);
    offset += 4;
    if (type === 0) {
      let entry = offset + 2;
      while (entry + 3 <= offset + length) {
        const nameType = buffer[entry]!;
        const nameLength = buffer.readUInt16BE(entry + 1);
        if (nameType === 0) return buffer.subarray(entry + 3, entry + 3 + nameLength).toString('ascii');
        entry += 3 + nameLength;
      }
      return null;
    }
    offset += length;
  }
  return null;
}
