import { cross, normalize, type Vec3 } from './vec.js';

/** A pinhole camera with square pixels and no roll. */
export interface Camera {
  position: Vec3;
  forward: Vec3;
  right: Vec3;
  up: Vec3;
  /** Focal length in pixels. */
  focal: number;
  width: number;
  height: number;
  near: number;
}

/**
 * A camera at `position` looking along `yaw` (heading convention: 0 is +z, growing towards +x) and
 * `pitch` (radians above the horizon), with vertical field of view `vfov` in radians.
 */
export function makeCamera(
  position: Vec3,
  yaw: number,
  pitch: number,
  vfov: number,
  width: number,
  height: number,
): Camera {
  const forward: Vec3 = [Math.sin(yaw) * Math.cos(pitch), Math.sin(pitch), Math.cos(yaw) * Math.cos(pitch)];
  const right = normalize(cross([0, 1, 0], forward));
  const up = cross(forward, right);
  return { position, forward, right, up, focal: height / 2 / Math.tan(vfov / 2), width, height, near: 0.05 };
}

/** Pixel coordinates (x right, y down; pixel centres at +0.5) and depth of a world point, or null behind the camera. */
export function project(camera: Camera, point: Vec3): { x: number; y: number; depth: number } | null {
  const d: Vec3 = [point[0] - camera.position[0], point[1] - camera.position[1], point[2] - camera.position[2]];
  const depth = d[0] * camera.forward[0] + d[1] * camera.forward[1] + d[2] * camera.forward[2];
  if (depth < camera.near) return null;
  const x = d[0] * camera.right[0] + d[1] * camera.right[1] + d[2] * camera.right[2];
  const y = d[0] * camera.up[0] + d[1] * camera.up[1] + d[2] * camera.up[2];
  return { x: camera.width / 2 + (camera.focal * x) / depth, y: camera.height / 2 - (camera.focal * y) / depth, depth };
}
