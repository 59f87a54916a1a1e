import { encodeCardRecord } from '../../shared/card-data.ts';
import { CLASSIC_RECORD_FIRST_BLOCK, NTAG_RECORD_START_PAGE } from '../nfc/member-card-layout.ts';
import { IsoDepCard, MifareClassicCard, StorageCard } from './card-models.ts';

/**
 * Issues an emulated card as the hub's issuing station would: the member record for this card's UID,
 * written where the kiosk reads it (device/nfc/member-card-layout.ts). Returns the record written.
 */
export function issueMemberCard(card: StorageCard | MifareClassicCard | IsoDepCard, cardNumber: string, cardKey: Uint8Array): Buffer {
  const record = encodeCardRecord({ uid: card.uid.toString('hex'), cardNumber }, cardKey);
  if (card instanceof StorageCard) card.writePages(NTAG_RECORD_START_PAGE, record);
  else if (card instanceof MifareClassicCard) card.writeBlocks(CLASSIC_RECORD_FIRST_BLOCK, record);
  else card.selectResponse = record;
  return record;
}
