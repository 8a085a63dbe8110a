import { ShadowGrid, WorldBackdrop } from './backdrop.js';
import { hsl, mix, randomColor } from './color.js';
import { LABEL_ID } from '../data/labels.js';
import { lightFromSun, MeshBuilder, type Light, type MeshGroup } from './mesh.js';
import { Rng } from './rng.js';
import type { WorldSpec } from './spec.js';
import { compose, rotationY, translation } from './vec.js';

export type ObjectKind = 'crate' | 'pillar' | 'tree' | 'bush' | 'lamp' | 'wall' | 'rock' | 'building';

/** One thing standing on the ground: its footprint circle, height and triangles. */
export interface PlacedObject {
  kind: ObjectKind;
  x: number;
  z: number;
  /** Radius of a circle on the ground that holds the object's footprint. */
  radius: number;
  height: number;
  mesh: MeshGroup;
}

/** The static part of a sample's scene. */
export interface World {
  light: Light;
  objects: PlacedObject[];
  backdrop: WorldBackdrop;
}

/** Ground points (x, z) that objects must keep clear of, each with the clearance (metres) it needs. */
export type KeepOut = [x: number, z: number, clearance: number][];

const KINDS: ObjectKind[] = ['crate', 'crate', 'pillar', 'tree', 'tree', 'tree', 'bush', 'lamp', 'wall', 'rock'];
const MARGIN = 20;
const SHADOW_CELL = 0.25;

interface Shape {
  radius: number;
  height: number;
  /** Radius of the shadow-casting part and how high it sits (for tree crowns). */
  shadowRadius: number;
  build(mesh: MeshBuilder, x: number, z: number): void;
}

function objectShape(kind: ObjectKind, rng: Rng): Shape {
  const yaw = rng.range(0, Math.PI);
  const color = randomColor(rng, [0.35, 0.85], [0.3, 0.6]);
  switch (kind) {
    case 'crate': {
      const sx = rng.range(0.6, 1.6),
        sy = rng.range(0.5, 1.5),
        sz = rng.range(0.6, 1.6);
      return {
        radius: Math.hypot(sx, sz) / 2,
        height: sy,
        shadowRadius: Math.max(sx, sz) / 2,
        build: (m, x, z) => m.box(compose(translation(x, sy / 2, z), rotationY(yaw)), sx, sy, sz, color),
      };
    }
    case 'pillar': {
      const r = rng.range(0.2, 0.45),
        h = rng.range(2, 5);
      return {
        radius: r,
        height: h,
        shadowRadius: r,
        build: (m, x, z) => {
          m.prism(compose(translation(x, 0, z), rotationY(yaw)), r, r, h, 8, color);
          m.box(translation(x, h + 0.1, z), r * 2.6, 0.2, r * 2.6, mix(color, [255, 255, 255], 0.4));
        },
      };
    }
    case 'tree': {
      const trunkR = rng.range(0.12, 0.25),
        trunkH = rng.range(1.2, 2.4);
      const crownR = rng.range(0.8, 1.6),
        crownH = rng.range(1.6, 3.2);
      const conifer = rng.chance(0.45);
      const leaves = rng.chance(0.8)
        ? hsl(rng.range(80, 150), rng.range(0.35, 0.7), rng.range(0.22, 0.4))
        : hsl(rng.range(10, 50), rng.range(0.6, 0.9), rng.range(0.35, 0.5));
      const bark = hsl(rng.range(15, 35), rng.range(0.3, 0.5), rng.range(0.18, 0.3));
      return {
        radius: crownR,
        height: trunkH + crownH,
        shadowRadius: crownR * 0.8,
        build: (m, x, z) => {
          m.prism(compose(translation(x, 0, z), rotationY(yaw)), trunkR, trunkR * 0.8, trunkH + 0.3, 6, bark);
          if (conifer) m.prism(compose(translation(x, trunkH * 0.7, z), rotationY(yaw)), crownR, 0, crownH, 8, leaves);
          else
            m.sphere(
              compose(translation(x, trunkH + crownH * 0.4, z), rotationY(yaw)),
              crownR,
              leaves,
              4,
              8,
              crownH / (2 * crownR),
            );
        },
      };
    }
    case 'bush': {
      const r = rng.range(0.4, 0.9);
      const leaves = hsl(rng.range(70, 150), rng.range(0.3, 0.6), rng.range(0.2, 0.38));
      return {
        radius: r,
        height: r * 1.2,
        shadowRadius: r,
        build: (m, x, z) => m.sphere(compose(translation(x, r * 0.5, z), rotationY(yaw)), r, leaves, 3, 7, 0.7),
      };
    }
    case 'lamp': {
      const h = rng.range(3, 4.2);
      const metal = randomColor(rng, [0, 0.3], [0.15, 0.35]);
      return {
        radius: 0.3,
        height: h,
        shadowRadius: 0.12,
        build: (m, x, z) => {
          m.prism(translation(x, 0, z), 0.07, 0.05, h, 6, metal);
          m.box(compose(translation(x, h, z), rotationY(yaw)), 0.5, 0.18, 0.25, [250, 240, 190]);
        },
      };
    }
    case 'wall': {
      const length = rng.range(2, 5),
        h = rng.range(0.8, 2),
        t = 0.3;
      return {
        radius: length / 2,
        height: h,
        shadowRadius: length / 2,
        build: (m, x, z) => m.box(compose(translation(x, h / 2, z), rotationY(yaw)), length, h, t, color),
      };
    }
    case 'rock': {
      const r = rng.range(0.3, 1.0);
      const stone = randomColor(rng, [0, 0.15], [0.35, 0.6]);
      return {
        radius: r,
        height: r * 0.8,
        shadowRadius: r,
        build: (m, x, z) => m.sphere(compose(translation(x, r * 0.2, z), rotationY(yaw)), r, stone, 3, 6, 0.6),
      };
    }
    case 'building': {
      const w = rng.range(6, 14),
        d = rng.range(6, 14),
        h = rng.range(5, 22);
      const wall = hsl(rng.range(0, 360), rng.range(0.05, 0.4), rng.range(0.4, 0.75));
      const glass = hsl(rng.range(190, 230), rng.range(0.1, 0.4), rng.range(0.15, 0.3));
      const bands = Math.floor(h / 3.5);
      return {
        radius: Math.hypot(w, d) / 2,
        height: h,
        shadowRadius: 0,
        build: (m, x, z) => {
          const base = compose(translation(x, 0, z), rotationY(yaw));
          m.box(compose(base, translation(0, h / 2, 0)), w, h, d, wall);
          for (let i = 0; i < bands; i++)
            m.box(compose(base, translation(0, 2 + i * 3.5, 0)), w + 0.1, 1.1, d + 0.1, glass);
          m.box(compose(base, translation(0, h + 0.4, 0)), w * 0.4, 0.8, d * 0.4, mix(wall, [0, 0, 0], 0.3));
        },
      };
    }
  }
}

function tooClose(x: number, z: number, radius: number, keepOut: KeepOut, placed: PlacedObject[]): boolean {
  for (const [px, pz, clearance] of keepOut) {
    if (Math.hypot(x - px, z - pz) < radius + clearance) return true;
  }
  return placed.some((o) => Math.hypot(x - o.x, z - o.z) < radius + o.radius + 0.3);
}

/** Scatters the spec's objects around the keep-out points and rings the area with buildings. */
export function buildWorld(spec: WorldSpec, keepOut: KeepOut): World {
  const rng = new Rng(spec.seed);
  const light = lightFromSun(spec.sun.azimuth, spec.sun.elevation);
  const xs = keepOut.map((p) => p[0]),
    zs = keepOut.map((p) => p[1]);
  const minX = Math.min(...xs) - MARGIN,
    maxX = Math.max(...xs) + MARGIN;
  const minZ = Math.min(...zs) - MARGIN,
    maxZ = Math.max(...zs) + MARGIN;
  const shadows = new ShadowGrid(
    minX,
    minZ,
    SHADOW_CELL,
    Math.ceil((maxX - minX) / SHADOW_CELL),
    Math.ceil((maxZ - minZ) / SHADOW_CELL),
  );
  const shadowLength = 1 / Math.tan(spec.sun.elevation);
  const awayX = -Math.sin(spec.sun.azimuth),
    awayZ = -Math.cos(spec.sun.azimuth);

  const objects: PlacedObject[] = [];
  const place = (kind: ObjectKind, shape: Shape, x: number, z: number): void => {
    const mesh = new MeshBuilder(light);
    shape.build(mesh, x, z);
    objects.push({
      kind,
      x,
      z,
      radius: shape.radius,
      height: shape.height,
      mesh: mesh.build(kind === 'building' ? LABEL_ID.building : LABEL_ID.prop),
    });
    if (shape.shadowRadius > 0) {
      const reach = shape.height * shadowLength * 0.85;
      shadows.addCapsule(x, z, x + awayX * reach, z + awayZ * reach, shape.shadowRadius, 1);
    }
  };

  for (let i = 0, attempts = 0; i < spec.objectCount && attempts < spec.objectCount * 40; attempts++) {
    const kind = rng.pick(KINDS);
    const shape = objectShape(kind, rng.fork(attempts));
    // Half of the objects stand near the track, where both views see them up close.
    let x: number, z: number;
    if (rng.chance(0.5)) {
      const [px, pz, clearance] = rng.pick(keepOut);
      const angle = rng.range(0, 2 * Math.PI),
        distance = shape.radius + clearance + rng.range(0.5, 8);
      x = px + distance * Math.sin(angle);
      z = pz + distance * Math.cos(angle);
    } else {
      x = rng.range(minX, maxX);
      z = rng.range(minZ, maxZ);
    }
    if (tooClose(x, z, shape.radius, keepOut, objects)) continue;
    place(kind, shape, x, z);
    i++;
  }

  const centerX = (minX + maxX) / 2,
    centerZ = (minZ + maxZ) / 2;
  const ring = Math.hypot(maxX - minX, maxZ - minZ) / 2 + 5;
  for (let i = 0; i < spec.buildingCount; i++) {
    const angle = ((i + rng.range(-0.3, 0.3)) / spec.buildingCount) * 2 * Math.PI;
    const distance = ring + rng.range(0, 25);
    place(
      'building',
      objectShape('building', rng.fork(1000 + i)),
      centerX + distance * Math.sin(angle),
      centerZ + distance * Math.cos(angle),
    );
  }
  return { light, objects, backdrop: new WorldBackdrop(spec, shadows) };
}
