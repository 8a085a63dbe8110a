import { LABEL_ID } from '../data/labels.js';
import type { Light, MeshGroup } from './mesh.js';
import { MeshBuilder } from './mesh.js';
import type { CharacterSpec } from './spec.js';
import { compose, rotationX, rotationY, rotationZ, translation, type Affine } from './vec.js';

/** Where and in what stance to build the character. */
export interface CharacterPose {
  x: number;
  z: number;
  heading: number;
  /** Walk cycle angle (radians); legs and arms swing with sin(phase). */
  phase: number;
  /** 0 stands still, 1 is a full walking stride. */
  stride: number;
}

/** Proportions as fractions of the character's height. */
const HIP = 0.5;
const SHOULDER = 0.8;
const HEAD_CENTER = 0.885;
const HEAD_RADIUS = 0.068;

/** Height of the eyes above the ground, in metres. */
export function eyeHeight(spec: CharacterSpec): number {
  return spec.height * (HEAD_CENTER + 0.015);
}

/** Builds the character's triangles, facing its heading, feet on the ground at (x, z). */
export function buildCharacter(spec: CharacterSpec, pose: CharacterPose, light: Light): MeshGroup {
  const h = spec.height;
  const w = spec.build;
  const mesh = new MeshBuilder(light);
  const swing = Math.sin(pose.phase) * pose.stride;
  const bob = 0.012 * h * Math.cos(2 * pose.phase) * pose.stride;
  const body = compose(translation(pose.x, bob, pose.z), rotationY(pose.heading));
  const at = (x: number, y: number, z: number, ...rest: Affine[]): Affine =>
    compose(body, translation(x, y, z), ...rest);

  const legLength = HIP * h - 0.04 * h;
  const legWidth = 0.1 * h * w;
  for (const side of [-1, 1]) {
    const angle = 0.45 * swing * side;
    const hip = at(side * 0.065 * h * w, HIP * h, 0, rotationX(angle));
    mesh.box(compose(hip, translation(0, -legLength / 2, 0)), legWidth, legLength, 0.11 * h * w, spec.trousers);
    mesh.box(
      compose(hip, translation(0, -legLength - 0.02 * h, 0.025 * h)),
      legWidth * 1.05,
      0.045 * h,
      0.16 * h,
      spec.shoes,
    );
  }

  const torsoHeight = (SHOULDER - HIP) * h + 0.02 * h;
  mesh.box(at(0, HIP * h + torsoHeight / 2 - 0.01 * h, 0), 0.27 * h * w, torsoHeight, 0.15 * h * w, spec.shirt);

  const armLength = 0.33 * h;
  for (const side of [-1, 1]) {
    const angle = -0.35 * swing * side;
    const shoulder = at(
      side * (0.135 * h * w + 0.035 * h),
      SHOULDER * h - 0.01 * h,
      0,
      rotationX(angle),
      rotationZ(side * 0.06),
    );
    mesh.box(compose(shoulder, translation(0, -armLength / 2, 0)), 0.07 * h, armLength, 0.075 * h, spec.shirt);
    mesh.box(compose(shoulder, translation(0, -armLength - 0.035 * h, 0)), 0.06 * h, 0.07 * h, 0.06 * h, spec.skin);
  }

  mesh.box(at(0, (SHOULDER + 0.03) * h, 0), 0.06 * h, 0.05 * h, 0.06 * h, spec.skin);
  const head = at(0, HEAD_CENTER * h, 0);
  mesh.sphere(head, HEAD_RADIUS * h, spec.skin, 4, 8);
  const r = HEAD_RADIUS * h;
  switch (spec.headwear) {
    case 'none':
      mesh.sphere(compose(head, translation(0, 0.25 * r, -0.25 * r)), r * 1.08, spec.hair, 4, 8, 0.85);
      break;
    case 'cap':
      mesh.sphere(compose(head, translation(0, 0.35 * r, -0.05 * r)), r * 1.06, spec.headwearColor, 4, 8, 0.7);
      mesh.box(compose(head, translation(0, 0.45 * r, 0.95 * r)), 1.4 * r, 0.12 * r, 1.1 * r, spec.headwearColor);
      break;
    case 'hat':
      mesh.prism(compose(head, translation(0, 0.55 * r, 0)), 1.9 * r, 1.9 * r, 0.12 * r, 10, spec.headwearColor);
      mesh.prism(compose(head, translation(0, 0.6 * r, 0)), 1.05 * r, 0.9 * r, 0.9 * r, 10, spec.headwearColor);
      break;
    case 'beanie':
      mesh.sphere(compose(head, translation(0, 0.3 * r, -0.05 * r)), r * 1.1, spec.headwearColor, 4, 8, 1.0);
      break;
  }
  if (spec.backpack) {
    mesh.box(at(0, (HIP + 0.17) * h, -0.11 * h * w), 0.22 * h * w, 0.24 * h, 0.09 * h, spec.backpack);
  }
  return mesh.build(LABEL_ID.character);
}
