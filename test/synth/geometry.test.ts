import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LABEL_ID } from '../../src/data/labels.js';
import { MeshBuilder } from '../../src/synth/mesh.js';
import { FIRST_PERSON, CHASE } from '../../src/synth/rig.js';
import { SampleRenderer } from '../../src/synth/sample.js';
import { makeSampleSpec } from '../../src/synth/spec.js';
import { compose, rotationY, translation } from '../../src/synth/vec.js';
import { colorHistogram, differenceMask, histogramOverlap, horizontalShift, maskStats, median } from './image_stats.js';

const MAGENTA: [number, number, number] = [255, 0, 255];

/** A 0.5 m magenta cube, turned square to the character, `ahead` metres in front of it and `aside` to its right, at eye level. */
function markerFor(
  renderer: SampleRenderer,
  frame: number,
  ahead: number,
  aside: number,
): { mesh: ReturnType<MeshBuilder['build']>; eye: number } {
  const pose = renderer.poses[frame]!;
  const eye = renderer.spec.character.height * 0.9;
  const forward = [Math.sin(pose.heading), Math.cos(pose.heading)];
  const right = [Math.cos(pose.heading), -Math.sin(pose.heading)];
  const x = pose.x + ahead * forward[0]! + aside * right[0]!;
  const z = pose.z + ahead * forward[1]! + aside * right[1]!;
  const builder = new MeshBuilder(null);
  builder.box(compose(translation(x, eye, z), rotationY(pose.heading)), 0.5, 0.5, 0.5, MAGENTA);
  return { mesh: builder.build(LABEL_ID.prop), eye };
}

test('an object placed in front of the first-person camera appears where a pinhole model puts it', () => {
  const width = 128,
    height = 96;
  const renderer = new SampleRenderer(makeSampleSpec(5, 0), { width, height, frames: 9, fps: 8 });
  renderer.world.objects.splice(0);
  // Focal length from the vertical field of view; the camera looks FIRST_PERSON.pitch below the horizon.
  const focal = height / 2 / Math.tan(FIRST_PERSON.vfov / 2);
  for (const frame of [0, 4, 8]) {
    for (const [ahead, aside] of [
      [5, 0],
      [4, 1.2],
      [6, -1.5],
    ] as const) {
      const without = renderer.firstPerson(frame);
      const { mesh } = markerFor(renderer, frame, ahead, aside);
      renderer.extra.push(mesh);
      const withMarker = renderer.firstPerson(frame);
      renderer.extra.splice(0);
      const stats = maskStats(differenceMask(without, withMarker, 8), width);
      const expectedX = width / 2 + (focal * aside) / ahead;
      const expectedY = height / 2 + focal * Math.tan(FIRST_PERSON.pitch);
      const expectedSide = (focal * 0.5) / ahead;
      assert.ok(
        stats.count > 0.4 * expectedSide * expectedSide,
        `frame ${frame}, marker (${ahead}, ${aside}): ${stats.count} pixels changed`,
      );
      assert.ok(
        Math.abs(stats.x - expectedX) < 3,
        `frame ${frame}, marker (${ahead}, ${aside}): centre x ${stats.x.toFixed(1)}, expected ${expectedX.toFixed(1)}`,
      );
      assert.ok(
        Math.abs(stats.y - expectedY) < 3,
        `frame ${frame}, marker (${ahead}, ${aside}): centre y ${stats.y.toFixed(1)}, expected ${expectedY.toFixed(1)}`,
      );
      if (aside === 0) {
        // Straight ahead only the front face shows; it is 0.25 m nearer than the cube's centre.
        const frontWidth = (focal * 0.5) / (ahead - 0.25 - FIRST_PERSON.ahead);
        const measured = stats.maxX - stats.minX + 1;
        assert.ok(
          Math.abs(measured - frontWidth) < 2,
          `frame ${frame}: marker ${measured} px wide, expected ${frontWidth.toFixed(1)}`,
        );
      }
      const o = (Math.round(stats.y) * width + Math.round(stats.x)) * 3;
      assert.ok(
        withMarker[o]! > 180 && withMarker[o + 1]! < 80 && withMarker[o + 2]! > 180,
        `frame ${frame}: centre pixel is not magenta`,
      );
    }
  }
  // The same marker behind the character is out of view.
  const without = renderer.firstPerson(0);
  renderer.extra.push(markerFor(renderer, 0, -4, 0).mesh);
  assert.equal(
    maskStats(differenceMask(without, renderer.firstPerson(0), 8), width).count,
    0,
    'a marker behind the camera was drawn',
  );
  renderer.extra.splice(0);
});

test('in the third-person view the character stands in the centre-bottom region of every frame', () => {
  const width = 96,
    height = 64;
  for (const index of [0, 1, 2, 3]) {
    const renderer = new SampleRenderer(makeSampleSpec(21, index), { width, height, frames: 9, fps: 8 });
    for (let frame = 0; frame < 9; frame++) {
      const mask = differenceMask(renderer.thirdPerson(frame), renderer.thirdPerson(frame, { character: false }), 6);
      const stats = maskStats(mask, width);
      const where = `sample ${index} frame ${frame}: centroid (${stats.x.toFixed(1)}, ${stats.y.toFixed(1)})`;
      assert.ok(stats.count > 0.03 * width * height, `${where}: only ${stats.count} character pixels`);
      assert.ok(stats.x > 0.38 * width && stats.x < 0.62 * width, `${where}: not horizontally centred`);
      assert.ok(stats.y > 0.5 * height && stats.y < 0.95 * height, `${where}: not in the bottom half`);
      assert.ok(stats.maxY - stats.minY > 0.3 * height, `${where}: character only ${stats.maxY - stats.minY} px tall`);
      assert.ok(stats.minY > 0.3 * height, `${where}: character reaches up to row ${stats.minY}`);
    }
  }
});

test('first- and third-person frames of one sample share scene colours more than frames of different samples', () => {
  const size = { width: 64, height: 64, frames: 9, fps: 8 };
  const histograms = Array.from({ length: 6 }, (_, index) => {
    const renderer = new SampleRenderer(makeSampleSpec(11, index), size);
    const frames = Array.from({ length: size.frames }, (_, k) => k);
    return {
      first: colorHistogram(frames.map((k) => renderer.firstPerson(k))),
      third: colorHistogram(frames.map((k) => renderer.thirdPerson(k))),
    };
  });
  for (let a = 0; a < histograms.length; a++) {
    const same = histogramOverlap(histograms[a]!.first, histograms[a]!.third);
    for (let b = 0; b < histograms.length; b++) {
      if (b === a) continue;
      const other = histogramOverlap(histograms[a]!.first, histograms[b]!.third);
      assert.ok(
        same > other + 0.1,
        `sample ${a}: overlap with its own third-person view ${same.toFixed(2)}, with sample ${b}'s ${other.toFixed(2)}`,
      );
    }
  }
});

test('a turn of the path shows as a turn of the same direction and size in both views', () => {
  const width = 96,
    height = 96,
    fps = 8;
  for (const direction of [1, -1]) {
    const spec = makeSampleSpec(11, 2);
    // Straight for 1.5 s, then a steady turn of 0.45 rad/s, then straight again.
    spec.walk.turnKeys = [0, 0, direction * 0.45, direction * 0.45, direction * 0.45, 0, 0, 0];
    spec.walk.keyInterval = 0.75;
    spec.world.clouds = 0.5;
    const renderer = new SampleRenderer(spec, { width, height, frames: 33, fps });
    const shifts = { first: [] as number[], third: [] as number[] };
    const straight = { first: [] as number[], third: [] as number[] };
    let previous = { first: renderer.firstPerson(0), third: renderer.thirdPerson(0) };
    for (let k = 1; k < 33; k++) {
      const current = { first: renderer.firstPerson(k), third: renderer.thirdPerson(k) };
      // Rows above the character's head: sky, buildings, far objects.
      const first = horizontalShift(previous.first, current.first, width, 0, 0.42 * height, 12);
      const third = horizontalShift(previous.third, current.third, width, 0, 0.38 * height, 12);
      const rate = renderer.poses[k]!.turnRate;
      if (Math.abs(rate) >= 0.44 && k > 14) {
        shifts.first.push(first);
        shifts.third.push(third);
      }
      if (k <= 6) {
        straight.first.push(first);
        straight.third.push(third);
      }
      previous = current;
    }
    for (const view of ['first', 'third'] as const) {
      const vfov = view === 'first' ? FIRST_PERSON.vfov : CHASE.vfov;
      const expected = (direction * ((height / 2 / Math.tan(vfov / 2)) * 0.45)) / fps;
      const measured = median(shifts[view]);
      assert.ok(shifts[view].length >= 5, 'too few turning frames');
      assert.ok(
        measured / expected > 0.6 && measured / expected < 1.6,
        `${view}-person, turn ${direction}: shift ${measured} px/frame, expected about ${expected.toFixed(1)}`,
      );
      assert.ok(
        straight[view].every((s) => Math.abs(s) <= 1),
        `${view}-person walking straight shifts ${straight[view].join(' ')}`,
      );
    }
  }
});

test('the class maps mark exactly the pixels each thing covers', () => {
  const width = 96,
    height = 72;
  for (const index of [0, 1, 2]) {
    const renderer = new SampleRenderer(makeSampleSpec(5, index), { width, height, frames: 5, fps: 8 });
    for (const k of [0, 4]) {
      // The character: whatever it covers changes colour when it is left out; the rest of what changes is its shadow on the ground.
      const withCharacter = renderer.thirdPersonView(k),
        without = renderer.thirdPersonView(k, { character: false });
      const changed = differenceMask(withCharacter.rgb, without.rgb, 0);
      let character = 0,
        unchanged = 0;
      for (let p = 0; p < changed.length; p++) {
        if (withCharacter.labels[p] === LABEL_ID.character) {
          character++;
          if (!changed[p]) unchanged++;
        } else if (changed[p]) {
          assert.ok(
            withCharacter.labels[p] === LABEL_ID.ground || withCharacter.labels[p] === LABEL_ID.road,
            `sample ${index} frame ${k}: pixel ${p} changed with the character but is class ${withCharacter.labels[p]}`,
          );
        }
      }
      assert.ok(character > 50, `sample ${index} frame ${k}: only ${character} character pixels in the chase view`);
      assert.ok(
        unchanged <= 0.02 * character,
        `sample ${index} frame ${k}: ${unchanged} of ${character} character pixels look the same without it`,
      );
      assert.ok(!without.labels.includes(LABEL_ID.character), 'no character pixels once it is left out');
      assert.ok(
        !renderer.firstPersonView(k).labels.includes(LABEL_ID.character),
        'the first-person view does not see its own body',
      );
    }
  }
  // An object: with the world emptied, a cube labelled as a building covers exactly the pixels it changes.
  const renderer = new SampleRenderer(makeSampleSpec(5, 0), { width, height, frames: 5, fps: 8 });
  renderer.world.objects.splice(0);
  const empty = renderer.firstPersonView(2);
  const backdrop = new Set<number>([LABEL_ID.sky, LABEL_ID.ground, LABEL_ID.road]);
  assert.ok(
    [...new Set(empty.labels)].every((id) => backdrop.has(id)),
    'an emptied world shows only sky, ground and road',
  );
  assert.ok(
    empty.labels.includes(LABEL_ID.sky) && empty.labels.includes(LABEL_ID.ground),
    'the first-person view sees sky and ground',
  );
  const builder = new MeshBuilder(null);
  const pose = renderer.poses[2]!;
  builder.box(
    translation(pose.x + 3 * Math.sin(pose.heading), 1.2, pose.z + 3 * Math.cos(pose.heading)),
    0.8,
    0.8,
    0.8,
    MAGENTA,
  );
  renderer.extra.push(builder.build(LABEL_ID.building));
  const marked = renderer.firstPersonView(2);
  const changed = differenceMask(marked.rgb, empty.rgb, 0);
  let covered = 0;
  for (let p = 0; p < changed.length; p++) {
    assert.equal(
      marked.labels[p] === LABEL_ID.building,
      changed[p] === 1,
      `pixel ${p}: class ${marked.labels[p]}, changed ${changed[p]}`,
    );
    if (changed[p]) covered++;
  }
  assert.ok(covered > 30, `the cube covers only ${covered} pixels`);
});
