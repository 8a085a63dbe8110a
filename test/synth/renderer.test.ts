import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PlainBackdrop } from '../../src/synth/backdrop.js';
import { makeCamera, project } from '../../src/synth/camera.js';
import { LABEL_ID } from '../../src/data/labels.js';
import { MeshBuilder } from '../../src/synth/mesh.js';
import { walkTimeline } from '../../src/synth/path.js';
import { Frame, render } from '../../src/synth/rasterizer.js';
import { makeSampleSpec } from '../../src/synth/spec.js';
import { compose, rotationX, rotationY, translation } from '../../src/synth/vec.js';

const GREY = new PlainBackdrop([100, 100, 100], [100, 100, 100]);
const W = 80,
  H = 60;
const vfov = Math.PI / 3;
const focal = H / 2 / Math.tan(vfov / 2);

function countColor(frame: Frame, color: [number, number, number]): number {
  let n = 0;
  for (let p = 0; p < W * H; p++)
    if (frame.rgb[p * 3] === color[0] && frame.rgb[p * 3 + 1] === color[1] && frame.rgb[p * 3 + 2] === color[2]) n++;
  return n;
}

test('project follows the pinhole model for yaw and pitch, and drops points behind the camera', () => {
  const ahead = makeCamera([0, 0, 0], 0, 0, vfov, W, H);
  const p = project(ahead, [1, 0.5, 4])!;
  assert.ok(
    Math.abs(p.x - (W / 2 + (focal * 1) / 4)) < 1e-9 &&
      Math.abs(p.y - (H / 2 - (focal * 0.5) / 4)) < 1e-9 &&
      Math.abs(p.depth - 4) < 1e-12,
  );
  assert.equal(project(ahead, [0, 0, -1]), null);
  // Turned right by 90 degrees, the camera looks along +x; a point straight ahead lands in the centre.
  const right = project(makeCamera([0, 0, 0], Math.PI / 2, 0, vfov, W, H), [3, 0, 0])!;
  assert.ok(Math.abs(right.x - W / 2) < 1e-9 && Math.abs(right.y - H / 2) < 1e-9);
  // Looking 10 degrees down, a point on the horizon is above the centre by focal * tan(10 degrees).
  const down = project(makeCamera([0, 0, 0], 0, (-10 * Math.PI) / 180, vfov, W, H), [0, 0, 10])!;
  assert.ok(Math.abs(down.y - (H / 2 - focal * Math.tan((10 * Math.PI) / 180))) < 1e-9);
});

test('a square facing the camera covers the area the projection predicts', () => {
  const camera = makeCamera([0, 0, 0], 0, 0, vfov, W, H);
  const mesh = new MeshBuilder(null);
  mesh.box(translation(0, 0, 5.5), 2, 2, 1, [200, 30, 30]);
  const frame = new Frame(W, H);
  render(frame, camera, GREY, [mesh.build(LABEL_ID.prop)]);
  const side = (focal * 2) / 5;
  const count = countColor(frame, [200, 30, 30]);
  assert.ok(Math.abs(count - side * side) < 4 * side, `${count} pixels, expected about ${(side * side).toFixed(0)}`);
  assert.equal(frame.rgb[((H / 2) * W + W / 2) * 3], 200);
  assert.equal(frame.rgb[0], 100, 'the corner keeps the background');
});

test('the z-buffer keeps the nearer surface whatever the drawing order, and back faces are culled', () => {
  const camera = makeCamera([0, 0, 0], 0, 0, vfov, W, H);
  const near = new MeshBuilder(null);
  near.box(translation(0, 0, 4), 1, 1, 0.2, [0, 200, 0]);
  const far = new MeshBuilder(null);
  far.box(translation(0, 0, 8), 4, 4, 0.2, [0, 0, 200]);
  for (const order of [
    [near.build(LABEL_ID.prop), far.build(LABEL_ID.prop)],
    [far.build(LABEL_ID.prop), near.build(LABEL_ID.prop)],
  ]) {
    const frame = new Frame(W, H);
    render(frame, camera, GREY, order);
    const centre = ((H / 2) * W + W / 2) * 3;
    assert.deepEqual([...frame.rgb.subarray(centre, centre + 3)], [0, 200, 0]);
    assert.ok(countColor(frame, [0, 0, 200]) > 0, 'the far box is visible around the near one');
  }
  // From inside a box every face is a back face: nothing is drawn.
  const room = new MeshBuilder(null);
  room.box(translation(0, 0, 0), 10, 10, 10, [250, 250, 0]);
  const frame = new Frame(W, H);
  render(frame, camera, GREY, [room.build(LABEL_ID.prop)]);
  assert.equal(countColor(frame, [250, 250, 0]), 0);
});

test('triangles crossing the near plane are clipped, not dropped or smeared', () => {
  // A long low slab under the camera reaching from behind it to far ahead: it fills the bottom of the view.
  const camera = makeCamera([0, 1, 0], 0, 0, vfov, W, H);
  const slab = new MeshBuilder(null);
  slab.box(translation(0, -0.05, 40), 200, 0.1, 100, [10, 120, 10]);
  const frame = new Frame(W, H);
  render(frame, camera, GREY, [slab.build(LABEL_ID.prop)]);
  for (let x = 0; x < W; x++) {
    assert.deepEqual(
      [...frame.rgb.subarray(((H - 1) * W + x) * 3, ((H - 1) * W + x) * 3 + 3)],
      [10, 120, 10],
      `bottom row, x ${x}`,
    );
    assert.equal(frame.rgb[(5 * W + x) * 3], 100, `row 5 (above the horizon), x ${x}`);
  }
});

test('the light shades faces by their angle to the sun', () => {
  const mesh = new MeshBuilder({ sun: [0, 1, 0], ambient: 0.5, sky: 0, diffuse: 0.5 });
  mesh.box(compose(translation(0, 0, 0), rotationY(0.3), rotationX(0)), 1, 1, 1, [200, 200, 200]);
  const group = mesh.build(LABEL_ID.prop);
  const byNormalY = new Map<number, number>();
  for (let t = 0; t < group.triangles; t++) byNormalY.set(Math.round(group.normals[t * 3 + 1]!), group.colors[t * 3]!);
  assert.equal(byNormalY.get(1), 200, 'top face: fully lit');
  assert.equal(byNormalY.get(0), 100, 'side faces: ambient only');
  assert.equal(byNormalY.get(-1), 100, 'bottom face: ambient only');
});

test('the walk is straight without turns and a circle of radius v/w under a constant turn', () => {
  const walk = {
    ...makeSampleSpec(1, 0).walk,
    start: [2, 3] as [number, number],
    heading: 0.4,
    speed: 1.5,
    turnKeys: [0],
    keyInterval: 1,
  };
  const straight = walkTimeline(walk, 1.7, 17, 8);
  const last = straight[16]!;
  assert.ok(
    Math.abs(last.x - (2 + 1.5 * 2 * Math.sin(0.4))) < 1e-9 && Math.abs(last.z - (3 + 1.5 * 2 * Math.cos(0.4))) < 1e-9,
  );
  assert.ok(straight.every((p) => p.heading === 0.4 && p.chaseHeading === 0.4));
  assert.ok(last.phase > straight[8]!.phase && straight[8]!.phase > 0, 'the walk cycle advances');

  const turning = walkTimeline({ ...walk, turnKeys: [0.5, 0.5] }, 1.7, 33, 8);
  const radius = 1.5 / 0.5;
  // Turning right from heading h, the centre lies to the right: start + radius * (cos h, -sin h).
  const cx = 2 + radius * Math.cos(0.4),
    cz = 3 - radius * Math.sin(0.4);
  for (const pose of turning) {
    assert.ok(Math.abs(Math.hypot(pose.x - cx, pose.z - cz) - radius) < 1e-3, `t ${pose.time}: off the circle`);
    assert.ok(Math.abs(pose.heading - (0.4 + 0.5 * pose.time)) < 1e-9);
  }
  assert.ok(
    turning[32]!.chaseHeading < turning[32]!.heading && turning[32]!.chaseHeading > turning[32]!.heading - 0.5,
    'the chase camera lags the turn',
  );
});
