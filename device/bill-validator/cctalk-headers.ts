/**
 * The ccTalk headers the kiosk's bill validator adapter and its emulator speak (ccTalk generic
 * specification; the subset and reply shapes are in shared/reference/hardware.md).
 */
export const Header = {
  reply: 0,
  reset: 1,
  nak: 5,
  busy: 6,
  routeBill: 154,
  countryScalingFactor: 156,
  billId: 157,
  readBufferedBillEvents: 159,
  modifyMasterInhibit: 228,
  modifyInhibitStatus: 231,
  selfCheck: 232,
  softwareRevision: 241,
  serialNumber: 242,
  productCode: 244,
  equipmentCategory: 245,
  manufacturerId: 246,
  simplePoll: 254,
} as const;

const NAMES = new Map<number, string>(Object.entries(Header).map(([name, value]) => [value, name]));

/** "159 (readBufferedBillEvents)", for error messages and logs a technician can act on. */
export function headerLabel(header: number): string {
  const name = NAMES.get(header);
  return name ? `${header} (${name})` : String(header);
}

/** Bus addresses: the host (us) and the default address of a bill validator. */
export const HOST_ADDRESS = 1;
export const BILL_VALIDATOR_ADDRESS = 40;
