export type ActorType = 'member' | 'operator' | 'device' | 'system';

/** Who caused a change (DESIGN.md decision 11); recorded with every change on the hub. */
export interface Actor {
  type: ActorType;
  id: string;
}
