import { makeCamera, type Camera } from './camera.js';
import { eyeHeight } from './character.js';
import type { Pose } from './path.js';
import type { CharacterSpec } from './spec.js';
import type { Vec3 } from './vec.js';

const DEG = Math.PI / 180;

/** Where the chase camera sits, in character heights: behind, above, and how far it looks down. */
export const CHASE = { back: 1.9, up: 1.05, pitch: -6 * DEG, vfov: 55 * DEG };
export const FIRST_PERSON = { ahead: 0.12, pitch: -4 * DEG, vfov: 62 * DEG, bob: 0.012, sway: 0.012 };
export const REFERENCE = { vfov: 40 * DEG, fill: 0.86 };

/** Ground position (x, z) of the chase camera for a pose. */
export function chaseCameraGround(pose: Pose, character: CharacterSpec): [number, number] {
  const back = CHASE.back * character.height;
  return [pose.x - back * Math.sin(pose.chaseHeading), pose.z - back * Math.cos(pose.chaseHeading)];
}

/** The character's eyes, looking along its heading, bobbing and swaying with its steps. */
export function firstPersonCamera(pose: Pose, character: CharacterSpec, width: number, height: number): Camera {
  const h = character.height;
  const sway = FIRST_PERSON.sway * h * Math.sin(pose.phase);
  const right: Vec3 = [Math.cos(pose.heading), 0, -Math.sin(pose.heading)];
  const position: Vec3 = [
    pose.x + FIRST_PERSON.ahead * Math.sin(pose.heading) + sway * right[0],
    eyeHeight(character) + FIRST_PERSON.bob * h * Math.cos(2 * pose.phase),
    pose.z + FIRST_PERSON.ahead * Math.cos(pose.heading) + sway * right[2],
  ];
  const pitch = FIRST_PERSON.pitch + 0.008 * Math.sin(2 * pose.phase);
  return makeCamera(position, pose.heading, pitch, FIRST_PERSON.vfov, width, height);
}

/** Behind and above the character, following its heading with a lag, looking slightly down. */
export function thirdPersonCamera(pose: Pose, character: CharacterSpec, width: number, height: number): Camera {
  const [x, z] = chaseCameraGround(pose, character);
  return makeCamera([x, CHASE.up * character.height, z], pose.chaseHeading, CHASE.pitch, CHASE.vfov, width, height);
}

/** Straight behind a character standing at the origin facing +z, framing it whole. */
export function referenceCamera(character: CharacterSpec, width: number, height: number): Camera {
  const h = character.height;
  const distance = (0.5 * h) / (Math.tan(REFERENCE.vfov / 2) * REFERENCE.fill);
  return makeCamera([0, 0.5 * h, -distance], 0, 0, REFERENCE.vfov, width, height);
}
