/**
 * World axes: y up; heading 0 looks along +z and headings grow towards +x (clockwise seen from
 * above), so a positive turn rate is a right turn and (sin h, 0, cos h) is the heading's direction.
 */
export type Vec3 = [number, number, number];

export const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
export const length = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
export const normalize = (a: Vec3): Vec3 => scale(a, 1 / (length(a) || 1));

/** A 3x4 affine transform, row-major: [r00 r01 r02 tx, r10 r11 r12 ty, r20 r21 r22 tz]. */
export type Affine = Float64Array;

export function identity(): Affine {
  return Float64Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0);
}

export function translation(x: number, y: number, z: number): Affine {
  return Float64Array.of(1, 0, 0, x, 0, 1, 0, y, 0, 0, 1, z);
}

/** Rotation about the y axis taking +z to headingVector(angle). */
export function rotationY(angle: number): Affine {
  const c = Math.cos(angle),
    s = Math.sin(angle);
  return Float64Array.of(c, 0, s, 0, 0, 1, 0, 0, -s, 0, c, 0);
}

/** Rotation about the x axis; a positive angle tips +y towards +z. */
export function rotationX(angle: number): Affine {
  const c = Math.cos(angle),
    s = Math.sin(angle);
  return Float64Array.of(1, 0, 0, 0, 0, c, -s, 0, 0, s, c, 0);
}

/** Rotation about the z axis; a positive angle tips +x towards +y. */
export function rotationZ(angle: number): Affine {
  const c = Math.cos(angle),
    s = Math.sin(angle);
  return Float64Array.of(c, -s, 0, 0, s, c, 0, 0, 0, 0, 1, 0);
}

/** The product of the transforms, left to right: the last one is applied to a point first. */
export function compose(...transforms: Affine[]): Affine {
  let out = identity();
  for (const m of transforms) {
    const r = new Float64Array(12);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        r[i * 4 + j] =
          out[i * 4]! * m[j]! +
          out[i * 4 + 1]! * m[4 + j]! +
          out[i * 4 + 2]! * m[8 + j]! +
          (j === 3 ? out[i * 4 + 3]! : 0);
      }
    }
    out = r;
  }
  return out;
}

export function applyPoint(m: Affine, x: number, y: number, z: number): Vec3 {
  return [
    m[0]! * x + m[1]! * y + m[2]! * z + m[3]!,
    m[4]! * x + m[5]! * y + m[6]! * z + m[7]!,
    m[8]! * x + m[9]! * y + m[10]! * z + m[11]!,
  ];
}
