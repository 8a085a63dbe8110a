import { LABEL_ID, type LabelId } from '../data/labels.js';
import type { Camera } from './camera.js';
import { mix, type Rgb } from './color.js';
import type { Backdrop, Frame } from './rasterizer.js';
import { latticeNoise } from './rng.js';
import type { WorldSpec } from './spec.js';
import { smoothstep, ValueNoise } from './texture.js';

/** Darkness (0 none, 1 black) cast on the ground by static objects, on a square grid of cells. */
export class ShadowGrid {
  readonly data: Float32Array;

  constructor(
    readonly originX: number,
    readonly originZ: number,
    readonly cell: number,
    readonly cols: number,
    readonly rows: number,
  ) {
    this.data = new Float32Array(cols * rows);
  }

  /** Shades every cell within `radius` of the segment a-b, with soft edges. */
  addCapsule(ax: number, az: number, bx: number, bz: number, radius: number, strength: number): void {
    const c0 = Math.max(0, Math.floor((Math.min(ax, bx) - radius - this.originX) / this.cell));
    const c1 = Math.min(this.cols - 1, Math.floor((Math.max(ax, bx) + radius - this.originX) / this.cell));
    const r0 = Math.max(0, Math.floor((Math.min(az, bz) - radius - this.originZ) / this.cell));
    const r1 = Math.min(this.rows - 1, Math.floor((Math.max(az, bz) + radius - this.originZ) / this.cell));
    const ux = bx - ax,
      uz = bz - az;
    const len2 = ux * ux + uz * uz || 1e-9;
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const px = this.originX + (col + 0.5) * this.cell,
          pz = this.originZ + (row + 0.5) * this.cell;
        const t = Math.min(1, Math.max(0, ((px - ax) * ux + (pz - az) * uz) / len2));
        const d = Math.hypot(px - ax - t * ux, pz - az - t * uz);
        const s = strength * (1 - smoothstep(radius * 0.7, radius, d));
        const i = row * this.cols + col;
        if (s > this.data[i]!) this.data[i] = s;
      }
    }
  }

  /** Bilinear between cell centres, so shadow edges do not show the grid. */
  at(x: number, z: number): number {
    const u = (x - this.originX) / this.cell - 0.5,
      v = (z - this.originZ) / this.cell - 0.5;
    const col = Math.floor(u),
      row = Math.floor(v);
    if (col < 0 || row < 0 || col >= this.cols - 1 || row >= this.rows - 1) return 0;
    const fu = u - col,
      fv = v - row;
    const i = row * this.cols + col;
    const d = this.data;
    const top = d[i]! + (d[i + 1]! - d[i]!) * fu;
    const bottom = d[i + this.cols]! + (d[i + this.cols + 1]! - d[i + this.cols]!) * fu;
    return top + (bottom - top) * fv;
  }
}

/** A soft round shadow on the ground that moves each frame (the character's). */
export interface ShadowDisc {
  x: number;
  z: number;
  radius: number;
}

const GROUT = 0.06;

/** Sky gradient with clouds above the horizon, textured ground plane (with roads and shadows) below it. */
export class WorldBackdrop implements Backdrop {
  characterShadow: ShadowDisc | null = null;
  private readonly average: Rgb;
  private readonly cloudColor: Rgb;
  private readonly roadCos: number;
  private readonly roadSin: number;
  private readonly noise: ValueNoise;
  private readonly fineNoise: ValueNoise;
  private readonly cloudNoise: ValueNoise;
  private readonly fineCloudNoise: ValueNoise;
  private readonly color: Float64Array = new Float64Array(3);

  constructor(
    readonly spec: WorldSpec,
    readonly shadows: ShadowGrid,
  ) {
    const { style, colorA, colorB } = spec.ground;
    this.average = style === 'tiles' ? mix(colorA, colorB, 2 * GROUT) : mix(colorA, colorB, 0.5);
    this.cloudColor = mix(spec.skyHorizon, [255, 255, 255], 0.65);
    this.roadCos = Math.cos(spec.ground.road.angle);
    this.roadSin = Math.sin(spec.ground.road.angle);
    this.noise = new ValueNoise(spec.seed ^ 0x1b873593);
    this.fineNoise = new ValueNoise(spec.seed ^ 0x2c1b3c6d);
    this.cloudNoise = new ValueNoise(spec.seed ^ 0x5bd1e995, 32);
    this.fineCloudNoise = new ValueNoise(spec.seed ^ 0x68e31da4, 128);
  }

  fill(frame: Frame, camera: Camera): void {
    const { width, height, rgb, invDepth, labels } = frame;
    const { position: c, forward: f, right: r, up: u, focal } = camera;
    const out = this.color;
    for (let y = 0; y < height; y++) {
      const b = -(y + 0.5 - height / 2) / focal;
      for (let x = 0; x < width; x++) {
        const a = (x + 0.5 - width / 2) / focal;
        const dx = f[0] + a * r[0] + b * u[0];
        const dy = f[1] + a * r[1] + b * u[1];
        const dz = f[2] + a * r[2] + b * u[2];
        const i = y * width + x;
        if (dy < -1e-6 && c[1] > 0) {
          const t = -c[1] / dy;
          const length2 = dx * dx + dy * dy + dz * dz;
          labels[i] = this.ground(c[0] + t * dx, c[2] + t * dz, (t * length2) / (focal * -dy), out);
          invDepth[i] = 1 / t;
        } else {
          this.sky(dx, dy, dz, out);
          invDepth[i] = 0;
          labels[i] = LABEL_ID.sky;
        }
        rgb[i * 3] = out[0]!;
        rgb[i * 3 + 1] = out[1]!;
        rgb[i * 3 + 2] = out[2]!;
      }
    }
  }

  private sky(dx: number, dy: number, dz: number, out: Float64Array): void {
    const { skyZenith: zenith, skyHorizon: horizon, clouds } = this.spec;
    const flat = Math.sqrt(dx * dx + dz * dz);
    // sin(elevation), eased: the gradient changes fastest near the horizon.
    const up = Math.max(0, dy) / Math.sqrt(flat * flat + dy * dy);
    const s = up * (2 - up);
    let cr = horizon[0] + (zenith[0] - horizon[0]) * s;
    let cg = horizon[1] + (zenith[1] - horizon[1]) * s;
    let cb = horizon[2] + (zenith[2] - horizon[2]) * s;
    if (clouds > 0 && up > 0) {
      // One turn of azimuth is exactly one period of each noise table, so the sky has no seam.
      const azimuth = (Math.atan2(dx, dz) / (2 * Math.PI) + 0.5) * 32;
      const height = Math.min(dy / flat, 4) * 5;
      const n = 0.65 * this.cloudNoise.at(azimuth, height) + 0.35 * this.fineCloudNoise.at(azimuth * 4, height * 3);
      const cover = smoothstep(1 - clouds, 1.05 - clouds * 0.6, n) * smoothstep(0, 0.08, up) * 0.9;
      cr += (this.cloudColor[0] - cr) * cover;
      cg += (this.cloudColor[1] - cg) * cover;
      cb += (this.cloudColor[2] - cb) * cover;
    }
    out[0] = cr;
    out[1] = cg;
    out[2] = cb;
  }

  /**
   * Colour of the ground at (x, z) seen through a pixel covering `footprint` metres; returns its
   * class (ground or road).
   */
  private ground(x: number, z: number, footprint: number, out: Float64Array): LabelId {
    const g = this.spec.ground;
    const { colorA, colorB, tileSize } = g;
    const seed = this.spec.seed;
    const u = x / tileSize,
      v = z / tileSize;
    let t: number;
    let detail = 1;
    switch (g.style) {
      case 'checker':
        t = (Math.floor(u) + Math.floor(v)) & 1;
        break;
      case 'tiles': {
        const fu = u - Math.floor(u),
          fv = v - Math.floor(v);
        t = fu < GROUT || fv < GROUT ? 1 : 0;
        detail = 0.9 + 0.2 * latticeNoise(Math.floor(u), Math.floor(v), seed);
        break;
      }
      default:
        t = 0.7 * this.noise.at(u, v) + 0.3 * this.fineNoise.at(u * 3.1, v * 3.1);
    }
    let cr = (colorA[0] + (colorB[0] - colorA[0]) * t) * detail;
    let cg = (colorA[1] + (colorB[1] - colorA[1]) * t) * detail;
    let cb = (colorA[2] + (colorB[2] - colorA[2]) * t) * detail;
    // Far away a pixel covers many tiles: fade the pattern to its average instead of aliasing.
    const blur = smoothstep(0.25, 0.9, footprint / tileSize);
    if (blur > 0) {
      cr += (this.average[0] - cr) * blur;
      cg += (this.average[1] - cg) * blur;
      cb += (this.average[2] - cb) * blur;
    }
    const road = g.road;
    let label: LabelId = LABEL_ID.ground;
    if (road.width > 0) {
      const across = x * this.roadCos + z * this.roadSin;
      const d = ((across % road.period) + road.period) % road.period;
      if (d < road.width) {
        label = LABEL_ID.road;
        cr = road.color[0];
        cg = road.color[1];
        cb = road.color[2];
        const along = -x * this.roadSin + z * this.roadCos;
        if (Math.abs(d - road.width / 2) < 0.1 && ((along % 3) + 3) % 3 < 1.5 && footprint < 0.15) {
          cr = 230;
          cg = 225;
          cb = 200;
        }
      }
    }
    let light = 1 - 0.5 * this.shadows.at(x, z);
    const disc = this.characterShadow;
    if (disc && Math.abs(x - disc.x) < disc.radius && Math.abs(z - disc.z) < disc.radius) {
      const d = Math.sqrt((x - disc.x) * (x - disc.x) + (z - disc.z) * (z - disc.z));
      light *= 1 - 0.45 * (1 - smoothstep(disc.radius * 0.5, disc.radius, d));
    }
    out[0] = Math.min(255, cr * light);
    out[1] = Math.min(255, cg * light);
    out[2] = Math.min(255, cb * light);
    return label;
  }
}

/** A plain background with a soft vertical gradient, for the reference image. */
export class PlainBackdrop implements Backdrop {
  constructor(
    readonly top: Rgb,
    readonly bottom: Rgb,
  ) {}

  fill(frame: Frame): void {
    const { width, height, rgb, invDepth, labels } = frame;
    invDepth.fill(0);
    labels.fill(LABEL_ID.sky);
    for (let y = 0; y < height; y++) {
      const color = mix(this.top, this.bottom, height > 1 ? y / (height - 1) : 0);
      for (let x = 0; x < width; x++) rgb.set(color, (y * width + x) * 3);
    }
  }
}
