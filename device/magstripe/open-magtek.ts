import HID from 'node-hid';
import { MagstripeReader } from './magstripe-reader.ts';

export const MAGTEK_VENDOR_ID = 0x0801;

/** Opens a real MagTek reader through hidraw (needs a udev rule for its vendor/product id). */
export function openMagtekReader(productId: number, vendorId = MAGTEK_VENDOR_ID): MagstripeReader {
  return new MagstripeReader(new HID.HID(vendorId, productId), `MagTek ${vendorId.toString(16).padStart(4, '0')}:${productId.toString(16).padStart(4, '0')}`);
}
