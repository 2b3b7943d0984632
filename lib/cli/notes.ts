/** `smlm-rt: note: ...` lines on stderr (things worth knowing that are not errors); `--quiet` turns them off. */
export function noteWriter(quiet = false): (text: string) => void {
  return quiet ? () => {} : (text) => process.stderr.write(`smlm-rt: note: ${text}\n`);
}
