import type { LabelId } from '../data/labels.js';
import type { Rgb } from './color.js';
import { applyPoint, dot, normalize, type Affine, type Vec3 } from './vec.js';

/** Light of a scene: colours are shaded once per triangle (flat shading), independent of the camera. */
export interface Light {
  /** Unit vector towards the sun. */
  sun: Vec3;
  ambient: number;
  /** Extra light on faces turned up towards the sky. */
  sky: number;
  diffuse: number;
}

/** Triangles ready to rasterise: world positions, outward normals, shaded colours, class id, bounding sphere. */
export interface MeshGroup {
  positions: Float32Array;
  normals: Float32Array;
  colors: Uint8Array;
  triangles: number;
  /** What the triangles are, as a class id of `LABEL_NAMES` (written to the frame's class map). */
  label: LabelId;
  center: Vec3;
  radius: number;
}

export function shade(color: Rgb, normal: Vec3, light: Light): Rgb {
  const k = light.ambient + light.sky * (0.5 + 0.5 * normal[1]) + light.diffuse * Math.max(0, dot(normal, light.sun));
  return [
    Math.min(255, Math.round(color[0] * k)),
    Math.min(255, Math.round(color[1] * k)),
    Math.min(255, Math.round(color[2] * k)),
  ];
}

/**
 * Collects triangles of convex primitives; each triangle's normal points away from its primitive's
 * centre. A builder without a light keeps colours exactly as given.
 */
export class MeshBuilder {
  private readonly positions: number[] = [];
  private readonly normals: number[] = [];
  private readonly colors: number[] = [];

  constructor(private readonly light: Light | null) {}

  get triangleCount(): number {
    return this.colors.length / 3;
  }

  /** One triangle of a convex solid whose interior contains `inside`. */
  triangle(a: Vec3, b: Vec3, c: Vec3, color: Rgb, inside: Vec3): void {
    const ux = b[0] - a[0],
      uy = b[1] - a[1],
      uz = b[2] - a[2];
    const vx = c[0] - a[0],
      vy = c[1] - a[1],
      vz = c[2] - a[2];
    let nx = uy * vz - uz * vy,
      ny = uz * vx - ux * vz,
      nz = ux * vy - uy * vx;
    const area = Math.sqrt(nx * nx + ny * ny + nz * nz);
    if (area < 1e-9) return;
    nx /= area;
    ny /= area;
    nz /= area;
    const outward =
      nx * ((a[0] + b[0] + c[0]) / 3 - inside[0]) +
      ny * ((a[1] + b[1] + c[1]) / 3 - inside[1]) +
      nz * ((a[2] + b[2] + c[2]) / 3 - inside[2]);
    const [second, third] = outward < 0 ? [c, b] : [b, c];
    if (outward < 0) {
      nx = -nx;
      ny = -ny;
      nz = -nz;
    }
    this.positions.push(a[0], a[1], a[2], second[0], second[1], second[2], third[0], third[1], third[2]);
    this.normals.push(nx, ny, nz);
    const shaded = this.light ? shade(color, [nx, ny, nz], this.light) : color;
    this.colors.push(shaded[0], shaded[1], shaded[2]);
  }

  quad(a: Vec3, b: Vec3, c: Vec3, d: Vec3, color: Rgb, inside: Vec3): void {
    this.triangle(a, b, c, color, inside);
    this.triangle(a, c, d, color, inside);
  }

  /** A box of size (sx, sy, sz) centred on the origin of `m`. */
  box(m: Affine, sx: number, sy: number, sz: number, color: Rgb): void {
    const hx = sx / 2,
      hy = sy / 2,
      hz = sz / 2;
    const p = (x: number, y: number, z: number): Vec3 => applyPoint(m, x * hx, y * hy, z * hz);
    const inside = p(0, 0, 0);
    const corners = [
      p(-1, -1, -1),
      p(1, -1, -1),
      p(1, 1, -1),
      p(-1, 1, -1),
      p(-1, -1, 1),
      p(1, -1, 1),
      p(1, 1, 1),
      p(-1, 1, 1),
    ];
    const faces = [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [0, 1, 5, 4],
      [3, 2, 6, 7],
      [0, 3, 7, 4],
      [1, 2, 6, 5],
    ];
    for (const [a, b, c, d] of faces) this.quad(corners[a!]!, corners[b!]!, corners[c!]!, corners[d!]!, color, inside);
  }

  /** A `sides`-sided prism from y=0 (radius `bottom`) to y=height (radius `top`; 0 makes a cone) in `m`. */
  prism(m: Affine, bottom: number, top: number, height: number, sides: number, color: Rgb): void {
    const inside = applyPoint(m, 0, height / 2, 0);
    const ring = (radius: number, y: number): Vec3[] =>
      Array.from({ length: sides }, (_, i) =>
        applyPoint(m, radius * Math.cos((2 * Math.PI * i) / sides), y, radius * Math.sin((2 * Math.PI * i) / sides)),
      );
    const low = ring(bottom, 0);
    const high = ring(top, height);
    const lowCenter = applyPoint(m, 0, 0, 0);
    const highCenter = applyPoint(m, 0, height, 0);
    for (let i = 0; i < sides; i++) {
      const j = (i + 1) % sides;
      this.quad(low[i]!, low[j]!, high[j]!, high[i]!, color, inside);
      this.triangle(lowCenter, low[i]!, low[j]!, color, inside);
      if (top > 0) this.triangle(highCenter, high[i]!, high[j]!, color, inside);
    }
  }

  /** A low-poly sphere (a UV sphere of `rings` bands and `segments` sectors) centred on the origin of `m`. */
  sphere(m: Affine, radius: number, color: Rgb, rings = 5, segments = 8, squash = 1): void {
    const inside = applyPoint(m, 0, 0, 0);
    const point = (ring: number, segment: number): Vec3 => {
      const polar = (Math.PI * ring) / rings;
      const azimuth = (2 * Math.PI * segment) / segments;
      return applyPoint(
        m,
        radius * Math.sin(polar) * Math.cos(azimuth),
        radius * squash * Math.cos(polar),
        radius * Math.sin(polar) * Math.sin(azimuth),
      );
    };
    for (let r = 0; r < rings; r++) {
      for (let s = 0; s < segments; s++) {
        this.quad(point(r, s), point(r, s + 1), point(r + 1, s + 1), point(r + 1, s), color, inside);
      }
    }
  }

  build(label: LabelId): MeshGroup {
    const positions = Float32Array.from(this.positions);
    let min: Vec3 = [Infinity, Infinity, Infinity];
    let max: Vec3 = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < positions.length; i += 3) {
      for (let k = 0; k < 3; k++) {
        min[k] = Math.min(min[k]!, positions[i + k]!);
        max[k] = Math.max(max[k]!, positions[i + k]!);
      }
    }
    if (positions.length === 0) {
      min = [0, 0, 0];
      max = [0, 0, 0];
    }
    const center: Vec3 = [(min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2];
    let radius = 0;
    for (let i = 0; i < positions.length; i += 3) {
      radius = Math.max(
        radius,
        Math.hypot(positions[i]! - center[0], positions[i + 1]! - center[1], positions[i + 2]! - center[2]),
      );
    }
    return {
      positions,
      normals: Float32Array.from(this.normals),
      colors: Uint8Array.from(this.colors),
      triangles: this.triangleCount,
      label,
      center,
      radius,
    };
  }
}

export function lightFromSun(azimuth: number, elevation: number): Light {
  return {
    sun: normalize([
      Math.sin(azimuth) * Math.cos(elevation),
      Math.sin(elevation),
      Math.cos(azimuth) * Math.cos(elevation),
    ]),
    ambient: 0.38,
    sky: 0.18,
    diffuse: 0.62,
  };
}
