import type { Camera } from './camera.js';
import type { MeshGroup } from './mesh.js';

/**
 * An RGB colour buffer, a z-buffer of inverse view depth (0 is infinitely far) and the class id of
 * what each pixel shows (`LABEL_NAMES` order), written with the colour.
 */
export class Frame {
  readonly rgb: Uint8Array;
  readonly invDepth: Float32Array;
  readonly labels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = new Uint8Array(width * height * 3);
    this.invDepth = new Float32Array(width * height);
    this.labels = new Uint8Array(width * height);
  }
}

/** Fills every pixel of a frame (colour and depth) before the triangles are drawn. */
export interface Backdrop {
  fill(frame: Frame, camera: Camera): void;
}

// Camera-space vertices of the triangle being drawn, after near-plane clipping (up to 4).
const clipX = new Float64Array(4),
  clipY = new Float64Array(4),
  clipZ = new Float64Array(4);
const inX = new Float64Array(3),
  inY = new Float64Array(3),
  inZ = new Float64Array(3);

function fillTriangle(
  frame: Frame,
  focal: number,
  x0: number,
  y0: number,
  z0: number,
  x1: number,
  y1: number,
  z1: number,
  x2: number,
  y2: number,
  z2: number,
  r: number,
  g: number,
  b: number,
  label: number,
): void {
  const { width, height, rgb, invDepth, labels } = frame;
  const cx = width / 2,
    cy = height / 2;
  const w0 = 1 / z0,
    w1 = 1 / z1,
    w2 = 1 / z2;
  const ax = cx + focal * x0 * w0,
    ay = cy - focal * y0 * w0;
  const bx = cx + focal * x1 * w1,
    by = cy - focal * y1 * w1;
  const qx = cx + focal * x2 * w2,
    qy = cy - focal * y2 * w2;
  const area = (bx - ax) * (qy - ay) - (qx - ax) * (by - ay);
  if (!(Math.abs(area) > 1e-12)) return;
  const minX = Math.max(0, Math.floor(Math.min(ax, bx, qx)));
  const maxX = Math.min(width - 1, Math.ceil(Math.max(ax, bx, qx)));
  const minY = Math.max(0, Math.floor(Math.min(ay, by, qy)));
  const maxY = Math.min(height - 1, Math.ceil(Math.max(ay, by, qy)));
  if (minX > maxX || minY > maxY) return;
  const inv = 1 / area;
  // Barycentric weights as affine functions of the pixel centre: e = e0 + ex*x + ey*y.
  const eAx = (by - qy) * inv,
    eAy = (qx - bx) * inv,
    eA0 = (bx * qy - qx * by) * inv;
  const eBx = (qy - ay) * inv,
    eBy = (ax - qx) * inv,
    eB0 = (qx * ay - ax * qy) * inv;
  const eCx = (ay - by) * inv,
    eCy = (bx - ax) * inv,
    eC0 = (ax * by - bx * ay) * inv;
  for (let y = minY; y <= maxY; y++) {
    const py = y + 0.5;
    const px = minX + 0.5;
    let ea = eA0 + eAx * px + eAy * py;
    let eb = eB0 + eBx * px + eBy * py;
    let ec = eC0 + eCx * px + eCy * py;
    let row = y * width + minX;
    for (let x = minX; x <= maxX; x++, row++, ea += eAx, eb += eBx, ec += eCx) {
      if (ea < 0 || eb < 0 || ec < 0) continue;
      const iz = ea * w0 + eb * w1 + ec * w2;
      if (iz <= invDepth[row]!) continue;
      invDepth[row] = iz;
      labels[row] = label;
      const o = row * 3;
      rgb[o] = r;
      rgb[o + 1] = g;
      rgb[o + 2] = b;
    }
  }
}

/** Clips the triangle in inX/inY/inZ against the near plane into clipX/clipY/clipZ; returns the vertex count. */
function clipNear(near: number): number {
  let n = 0;
  for (let i = 0; i < 3; i++) {
    const j = (i + 1) % 3;
    const zi = inZ[i]!,
      zj = inZ[j]!;
    if (zi >= near) {
      clipX[n] = inX[i]!;
      clipY[n] = inY[i]!;
      clipZ[n] = zi;
      n++;
    }
    if (zi >= near !== zj >= near) {
      const t = (near - zi) / (zj - zi);
      clipX[n] = inX[i]! + t * (inX[j]! - inX[i]!);
      clipY[n] = inY[i]! + t * (inY[j]! - inY[i]!);
      clipZ[n] = near;
      n++;
    }
  }
  return n;
}

/** True when the group's bounding sphere lies wholly outside the view frustum. */
function culled(group: MeshGroup, camera: Camera): boolean {
  const { position: c, right, up, forward, focal, width, height, near } = camera;
  const dx = group.center[0] - c[0],
    dy = group.center[1] - c[1],
    dz = group.center[2] - c[2];
  const x = dx * right[0] + dy * right[1] + dz * right[2];
  const y = dx * up[0] + dy * up[1] + dz * up[2];
  const z = dx * forward[0] + dy * forward[1] + dz * forward[2];
  const r = group.radius;
  if (z + r < near) return true;
  const a = width / 2 / focal,
    b = height / 2 / focal;
  const na = Math.hypot(1, a),
    nb = Math.hypot(1, b);
  return (Math.abs(x) - a * z) / na > r || (Math.abs(y) - b * z) / nb > r;
}

/** Draws the triangles of `groups` over what the frame holds, with back faces culled and a z-test. */
export function drawGroups(frame: Frame, camera: Camera, groups: readonly MeshGroup[]): void {
  const { position: c, right, up, forward, focal, near } = camera;
  for (const group of groups) {
    if (culled(group, camera)) continue;
    const { positions: p, normals: nrm, colors, label } = group;
    for (let t = 0; t < group.triangles; t++) {
      const v = t * 9;
      const toEyeX = p[v]! - c[0],
        toEyeY = p[v + 1]! - c[1],
        toEyeZ = p[v + 2]! - c[2];
      if (nrm[t * 3]! * toEyeX + nrm[t * 3 + 1]! * toEyeY + nrm[t * 3 + 2]! * toEyeZ >= 0) continue;
      let behind = 0;
      for (let k = 0; k < 3; k++) {
        const dx = p[v + 3 * k]! - c[0],
          dy = p[v + 3 * k + 1]! - c[1],
          dz = p[v + 3 * k + 2]! - c[2];
        inX[k] = dx * right[0] + dy * right[1] + dz * right[2];
        inY[k] = dx * up[0] + dy * up[1] + dz * up[2];
        inZ[k] = dx * forward[0] + dy * forward[1] + dz * forward[2];
        if (inZ[k]! < near) behind++;
      }
      if (behind === 3) continue;
      const r = colors[t * 3]!,
        g = colors[t * 3 + 1]!,
        b = colors[t * 3 + 2]!;
      if (behind === 0) {
        fillTriangle(
          frame,
          focal,
          inX[0]!,
          inY[0]!,
          inZ[0]!,
          inX[1]!,
          inY[1]!,
          inZ[1]!,
          inX[2]!,
          inY[2]!,
          inZ[2]!,
          r,
          g,
          b,
          label,
        );
        continue;
      }
      const n = clipNear(near);
      for (let k = 1; k + 1 < n; k++) {
        fillTriangle(
          frame,
          focal,
          clipX[0]!,
          clipY[0]!,
          clipZ[0]!,
          clipX[k]!,
          clipY[k]!,
          clipZ[k]!,
          clipX[k + 1]!,
          clipY[k + 1]!,
          clipZ[k + 1]!,
          r,
          g,
          b,
          label,
        );
      }
    }
  }
}

/** Blends every pixel with a finite depth towards `color` by 1 - exp(-density * depth). */
export function applyFog(frame: Frame, color: readonly [number, number, number], density: number): void {
  const { rgb, invDepth } = frame;
  for (let i = 0; i < invDepth.length; i++) {
    const iz = invDepth[i]!;
    if (iz <= 0) continue;
    const f = 1 - Math.exp(-density / iz);
    const o = i * 3;
    rgb[o] = rgb[o]! + (color[0] - rgb[o]!) * f;
    rgb[o + 1] = rgb[o + 1]! + (color[1] - rgb[o + 1]!) * f;
    rgb[o + 2] = rgb[o + 2]! + (color[2] - rgb[o + 2]!) * f;
  }
}

/** Renders a backdrop and triangles into a frame. */
export function render(frame: Frame, camera: Camera, backdrop: Backdrop, groups: readonly MeshGroup[]): void {
  backdrop.fill(frame, camera);
  drawGroups(frame, camera, groups);
}
