import type { WalkSpec } from './spec.js';

/** Where the character is at one frame. */
export interface Pose {
  time: number;
  x: number;
  z: number;
  heading: number;
  /** Turn rate in radians per second (positive: turning right). */
  turnRate: number;
  /** Walk cycle angle: one full stride (two steps) per 2*pi. */
  phase: number;
  /** Heading of the chase camera, which follows the character's heading with a lag. */
  chaseHeading: number;
}

/** Metres per full stride (two steps), per metre of character height. */
const STRIDE_PER_HEIGHT = 0.8;
/** Seconds the chase camera takes to catch up with a turn (exponential time constant). */
const CHASE_LAG = 0.35;
const SUBSTEPS = 16;

export function turnRateAt(walk: WalkSpec, time: number): number {
  const keys = walk.turnKeys;
  if (keys.length === 0) return 0;
  const u = time / walk.keyInterval;
  const i = Math.floor(u);
  if (i >= keys.length - 1) return keys[keys.length - 1]!;
  const t = u - i;
  const ease = (1 - Math.cos(Math.PI * t)) / 2;
  return keys[i]! + (keys[i + 1]! - keys[i]!) * ease;
}

/** Integrates the walk over `frames` frames at `fps`; frame i is at time i/fps. */
export function walkTimeline(walk: WalkSpec, characterHeight: number, frames: number, fps: number): Pose[] {
  const poses: Pose[] = [];
  const dt = 1 / fps / SUBSTEPS;
  const strideLength = STRIDE_PER_HEIGHT * characterHeight;
  let [x, z] = walk.start;
  let heading = walk.heading;
  let chase = heading;
  let distance = 0;
  let time = 0;
  for (let frame = 0; frame < frames; frame++) {
    const rate = turnRateAt(walk, time);
    poses.push({
      time,
      x,
      z,
      heading,
      turnRate: rate,
      phase: (2 * Math.PI * distance) / strideLength,
      chaseHeading: chase,
    });
    for (let s = 0; s < SUBSTEPS; s++) {
      const midHeading = heading + 0.5 * dt * turnRateAt(walk, time);
      x += walk.speed * dt * Math.sin(midHeading);
      z += walk.speed * dt * Math.cos(midHeading);
      heading += dt * turnRateAt(walk, time + 0.5 * dt);
      chase += (heading - chase) * (1 - Math.exp(-dt / CHASE_LAG));
      distance += walk.speed * dt;
      time += dt;
    }
    time = (frame + 1) / fps;
  }
  return poses;
}
