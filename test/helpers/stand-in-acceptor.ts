import { EventEmitter } from 'node:events';
import type { CashAcceptorPort } from '../../device/kiosk/cash-acceptance.ts';

/** A bill validator stand-in: records what the kiosk asks of it; tests emit the validator's events. */
export class StandInAcceptor extends EventEmitter implements CashAcceptorPort {
  enabled = false;
  routed: Array<'stack' | 'return'> = [];

  /** `eventCounter`: the validator's event counter as the kiosk first reads it. */
  constructor(public eventCounter: number | undefined = 0) {
    super();
  }

  async enable() {
    this.enabled = true;
  }
  async disable() {
    this.enabled = false;
  }
  async stackEscrow() {
    this.routed.push('stack');
  }
  async returnEscrow() {
    this.routed.push('return');
  }
}
