import { hsl, randomColor, type Rgb } from './color.js';
import { hashSeed, Rng } from './rng.js';

export type GroundStyle = 'checker' | 'tiles' | 'grass' | 'sand';
export type Headwear = 'none' | 'cap' | 'hat' | 'beanie';

export interface WorldSpec {
  /** Seed of everything placed in the world (objects, buildings, textures). */
  seed: number;
  skyZenith: Rgb;
  skyHorizon: Rgb;
  ground: {
    style: GroundStyle;
    colorA: Rgb;
    colorB: Rgb;
    /** Metres per tile or texture cell. */
    tileSize: number;
    /** Parallel roads of this width every `period` metres, running at `angle` radians; width 0 for none. */
    road: { color: Rgb; width: number; period: number; angle: number };
  };
  /** Direction towards the sun: azimuth (radians, heading convention) and elevation above the horizon. */
  sun: { azimuth: number; elevation: number };
  /** Per-metre fog density towards the horizon colour. */
  fog: number;
  /** Fraction of the sky covered by clouds, 0 to about 0.6. */
  clouds: number;
  objectCount: number;
  buildingCount: number;
}

export interface CharacterSpec {
  /** Metres, feet to crown (without headwear). */
  height: number;
  /** Multiplier on body width. */
  build: number;
  skin: Rgb;
  shirt: Rgb;
  trousers: Rgb;
  shoes: Rgb;
  hair: Rgb;
  headwear: Headwear;
  headwearColor: Rgb;
  backpack: Rgb | null;
}

export interface WalkSpec {
  /** Start position on the ground (x, z) in metres, and heading in radians. */
  start: [number, number];
  heading: number;
  /** Metres per second. */
  speed: number;
  /** Turn rate in radians per second at times 0, keyInterval, 2*keyInterval, ...; eased between keys. */
  turnKeys: number[];
  keyInterval: number;
}

/** Everything that decides one sample, JSON-serialisable: the manifest records it. */
export interface SampleSpec {
  index: number;
  seed: number;
  world: WorldSpec;
  character: CharacterSpec;
  walk: WalkSpec;
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

function skyColors(rng: Rng): { zenith: Rgb; horizon: Rgb } {
  const kind = rng.pick(['clear', 'clear', 'dusk', 'overcast', 'hazy'] as const);
  switch (kind) {
    case 'clear':
      return {
        zenith: randomColor(rng, [0.5, 0.8], [0.4, 0.55], [200, 225]),
        horizon: randomColor(rng, [0.3, 0.6], [0.75, 0.88], [190, 215]),
      };
    case 'dusk':
      return {
        zenith: randomColor(rng, [0.35, 0.6], [0.3, 0.42], [230, 280]),
        horizon: randomColor(rng, [0.6, 0.9], [0.6, 0.72], [15, 40]),
      };
    case 'overcast':
      return {
        zenith: randomColor(rng, [0.02, 0.1], [0.55, 0.7], [190, 230]),
        horizon: randomColor(rng, [0.02, 0.1], [0.78, 0.88], [190, 230]),
      };
    case 'hazy':
      return {
        zenith: randomColor(rng, [0.2, 0.4], [0.6, 0.72], [180, 210]),
        horizon: randomColor(rng, [0.15, 0.35], [0.82, 0.9], [35, 60]),
      };
  }
}

function groundSpec(rng: Rng): WorldSpec['ground'] {
  const style = rng.pick(['checker', 'tiles', 'grass', 'sand'] as const);
  const hue = rng.range(0, 360);
  let colorA: Rgb, colorB: Rgb, tileSize: number;
  switch (style) {
    case 'checker':
      colorA = hsl(hue, rng.range(0.2, 0.6), rng.range(0.3, 0.45));
      colorB = hsl(hue + rng.range(-40, 40), rng.range(0.1, 0.5), rng.range(0.55, 0.75));
      tileSize = rng.range(0.8, 2.0);
      break;
    case 'tiles':
      colorA = hsl(hue, rng.range(0.05, 0.35), rng.range(0.45, 0.7));
      colorB = hsl(hue, rng.range(0.05, 0.2), rng.range(0.2, 0.35));
      tileSize = rng.range(0.5, 1.2);
      break;
    case 'grass':
      colorA = hsl(rng.range(75, 135), rng.range(0.35, 0.6), rng.range(0.25, 0.38));
      colorB = hsl(rng.range(60, 120), rng.range(0.3, 0.55), rng.range(0.4, 0.5));
      tileSize = rng.range(0.6, 1.6);
      break;
    case 'sand':
      colorA = hsl(rng.range(30, 50), rng.range(0.3, 0.55), rng.range(0.6, 0.72));
      colorB = hsl(rng.range(25, 45), rng.range(0.25, 0.5), rng.range(0.48, 0.58));
      tileSize = rng.range(0.6, 1.6);
      break;
  }
  const hasRoad = rng.chance(0.6);
  return {
    style,
    colorA,
    colorB,
    tileSize: round(tileSize),
    road: {
      color: randomColor(rng, [0, 0.15], [0.18, 0.4]),
      width: hasRoad ? round(rng.range(2.5, 6)) : 0,
      period: round(rng.range(18, 40)),
      angle: round(rng.range(0, Math.PI)),
    },
  };
}

function characterSpec(rng: Rng): CharacterSpec {
  const headwear = rng.pick(['none', 'none', 'cap', 'hat', 'beanie'] as const);
  return {
    height: round(rng.range(1.5, 1.95), 3),
    build: round(rng.range(0.85, 1.2), 3),
    skin: hsl(rng.range(18, 35), rng.range(0.3, 0.55), rng.range(0.3, 0.75)),
    shirt: randomColor(rng, [0.35, 0.9], [0.25, 0.65]),
    trousers: randomColor(rng, [0.1, 0.6], [0.15, 0.45]),
    shoes: randomColor(rng, [0, 0.3], [0.08, 0.3]),
    hair: hsl(rng.range(15, 45), rng.range(0.2, 0.6), rng.range(0.08, 0.45)),
    headwear,
    headwearColor: randomColor(rng, [0.3, 0.9], [0.15, 0.6]),
    backpack: rng.chance(0.35) ? randomColor(rng, [0.3, 0.8], [0.2, 0.5]) : null,
  };
}

function walkSpec(rng: Rng): WalkSpec {
  const keyInterval = round(rng.range(1.0, 2.0), 3);
  const turnKeys: number[] = [];
  // Keys for at least 32 s of walking; past the last key the turn rate stays at its value.
  for (let i = 0; i < 32; i++) turnKeys.push(rng.chance(0.35) ? 0 : round(rng.range(-0.6, 0.6)));
  return {
    start: [0, 0],
    heading: round(rng.range(-Math.PI, Math.PI)),
    speed: round(rng.range(1.1, 1.7), 3),
    turnKeys,
    keyInterval,
  };
}

/** The spec of sample `index` of a run seeded `seed`: independent of every other sample. */
export function makeSampleSpec(seed: number, index: number): SampleSpec {
  const sampleSeed = hashSeed(seed, index);
  const rng = new Rng(sampleSeed);
  const sky = skyColors(rng.fork(1));
  const worldRng = rng.fork(2);
  const sunRng = rng.fork(3);
  return {
    index,
    seed: sampleSeed,
    world: {
      seed: hashSeed(sampleSeed, 7),
      skyZenith: sky.zenith,
      skyHorizon: sky.horizon,
      ground: groundSpec(worldRng),
      sun: { azimuth: round(sunRng.range(-Math.PI, Math.PI)), elevation: round(sunRng.range(0.45, 1.2)) },
      fog: round(worldRng.range(0.004, 0.02), 5),
      clouds: round(worldRng.chance(0.25) ? 0 : worldRng.range(0.1, 0.6), 3),
      objectCount: worldRng.int(18, 45),
      buildingCount: worldRng.int(8, 16),
    },
    character: characterSpec(rng.fork(4)),
    walk: walkSpec(rng.fork(5)),
  };
}
