// A real, playable MP4 (H.264 Baseline) made without an encoder, for tests
// and for trying the page without a video at hand:
//
//   node examples/streaming/test-video.mjs out.mp4 [seconds]
//
// Every macroblock is coded as I_PCM, H.264's "raw samples" macroblock type,
// so no prediction, transform or entropy tables are needed: the bitstream is
// a few Exp-Golomb header fields and the pixels themselves. Every frame is
// an IDR (a keyframe), so any time is a place a player can seek to. Each
// second has its own background colour (SECOND_COLORS), with a white bar at
// the bottom that grows through the second: a test can seek, draw the frame
// and tell from its colour which second it shows.
//
// The file is "fast start" (the index, moov, before the samples), as players
// that stream over HTTP Range requests want it.

/** Background colour of second n (cycling), as [r, g, b]; a test reads it back from a decoded frame. */
export const SECOND_COLORS = [
  [220, 40, 40],
  [40, 180, 60],
  [40, 70, 220],
  [230, 200, 40],
  [200, 60, 200],
  [40, 200, 210],
  [240, 140, 30],
  [120, 120, 120],
  [130, 60, 20],
  [20, 20, 90],
];

/** Writes bits most significant first; Exp-Golomb codes as H.264 uses them. */
class BitWriter {
  bytes = [];
  cur = 0;
  n = 0;

  bit(b) {
    this.cur = (this.cur << 1) | (b & 1);
    if (++this.n === 8) {
      this.bytes.push(this.cur);
      this.cur = 0;
      this.n = 0;
    }
  }

  bits(value, count) {
    for (let i = count - 1; i >= 0; i--) this.bit((value >>> i) & 1);
  }

  /** Eight bits, straight into the output when aligned (the bulk of an I_PCM frame). */
  byte(value) {
    if (this.n === 0) this.bytes.push(value);
    else this.bits(value, 8);
  }

  /** ue(v): unsigned Exp-Golomb. */
  ue(value) {
    const v = value + 1;
    const len = 32 - Math.clz32(v);
    this.bits(0, len - 1);
    this.bits(v, len);
  }

  /** se(v): signed Exp-Golomb. */
  se(value) {
    this.ue(value <= 0 ? -2 * value : 2 * value - 1);
  }

  aligned() {
    return this.n === 0;
  }

  /** rbsp_trailing_bits: a stop bit, then zeros to the byte boundary. */
  trailing() {
    this.bit(1);
    while (this.n !== 0) this.bit(0);
  }
}

/** A NAL unit from its header byte and RBSP, with emulation prevention (00 00 0x → 00 00 03 0x). */
function nal(header, rbsp) {
  const out = [header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

function sps(mbWidth, mbHeight) {
  const w = new BitWriter();
  w.bits(66, 8); // profile_idc: Baseline
  w.bits(0xc0, 8); // constraint_set0/1: constrained baseline
  w.bits(40, 8); // level_idc 4.0: room for I_PCM's bit rate
  w.ue(0); // seq_parameter_set_id
  w.ue(0); // log2_max_frame_num_minus4
  w.ue(2); // pic_order_cnt_type 2: output order is decode order
  w.ue(1); // max_num_ref_frames
  w.bit(0); // gaps_in_frame_num_value_allowed_flag
  w.ue(mbWidth - 1);
  w.ue(mbHeight - 1);
  w.bit(1); // frame_mbs_only_flag
  w.bit(1); // direct_8x8_inference_flag
  w.bit(0); // frame_cropping_flag
  w.bit(0); // vui_parameters_present_flag
  w.trailing();
  return nal(0x67, w.bytes);
}

function pps() {
  const w = new BitWriter();
  w.ue(0); // pic_parameter_set_id
  w.ue(0); // seq_parameter_set_id
  w.bit(0); // entropy_coding_mode_flag: CAVLC
  w.bit(0); // bottom_field_pic_order_in_frame_present_flag
  w.ue(0); // num_slice_groups_minus1
  w.ue(0); // num_ref_idx_l0_default_active_minus1
  w.ue(0); // num_ref_idx_l1_default_active_minus1
  w.bit(0); // weighted_pred_flag
  w.bits(0, 2); // weighted_bipred_idc
  w.se(0); // pic_init_qp_minus26
  w.se(0); // pic_init_qs_minus26
  w.se(0); // chroma_qp_index_offset
  w.bit(0); // deblocking_filter_control_present_flag
  w.bit(0); // constrained_intra_pred_flag
  w.bit(0); // redundant_pic_cnt_present_flag
  w.trailing();
  return nal(0x68, w.bytes);
}

/** BT.601 limited range, as decoders assume without VUI; never 0 (I_PCM forbids it). */
function yuv([r, g, b]) {
  const clamp = (v) => Math.max(1, Math.min(254, Math.round(v)));
  return [
    clamp(16 + 0.257 * r + 0.504 * g + 0.098 * b),
    clamp(128 - 0.148 * r - 0.291 * g + 0.439 * b),
    clamp(128 + 0.439 * r - 0.368 * g - 0.071 * b),
  ];
}

/** One IDR slice covering the frame, every macroblock I_PCM. `pixel(x, y)` gives [y, u, v]. */
function idrSlice(mbWidth, mbHeight, idrId, pixel) {
  const w = new BitWriter();
  w.ue(0); // first_mb_in_slice
  w.ue(7); // slice_type: I (all slices of the picture)
  w.ue(0); // pic_parameter_set_id
  w.bits(0, 4); // frame_num (log2_max_frame_num = 4)
  w.ue(idrId); // idr_pic_id: differs between consecutive IDRs
  w.bit(0); // no_output_of_prior_pics_flag
  w.bit(0); // long_term_reference_flag
  w.se(0); // slice_qp_delta
  for (let my = 0; my < mbHeight; my++) {
    for (let mx = 0; mx < mbWidth; mx++) {
      w.ue(25); // mb_type: I_PCM
      while (!w.aligned()) w.bit(0); // pcm_alignment_zero_bit
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) w.byte(pixel(mx * 16 + x, my * 16 + y)[0]);
      for (const plane of [1, 2]) {
        // 4:2:0: one chroma sample per 2×2 luma samples
        for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) w.byte(pixel(mx * 16 + x * 2, my * 16 + y * 2)[plane]);
      }
    }
  }
  w.trailing();
  return nal(0x65, w.bytes);
}

// --- MP4 boxes (ISO/IEC 14496-12) -------------------------------------------

const u8 = (v) => Buffer.from([v & 0xff]);
const u16 = (v) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const zeros = (n) => Buffer.alloc(n);
const box = (type, ...parts) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
};
const fullBox = (type, version, flags, ...parts) => box(type, u8(version), u8(flags >> 16), u16(flags & 0xffff), ...parts);
const UNITY_MATRIX = Buffer.concat([0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000].map(u32));

/**
 * An MP4 of `seconds` seconds at `fps` frames a second, `width`×`height`
 * (multiples of 16). About width × height × 1.5 bytes a frame: the defaults
 * make a 10 s, 320×240, 10 fps video of about 11.5 MB.
 */
export function makeTestVideo({ seconds = 10, fps = 10, width = 320, height = 240 } = {}) {
  if (width % 16 || height % 16) throw new Error('width and height must be multiples of 16');
  const mbWidth = width / 16;
  const mbHeight = height / 16;
  const frames = Math.round(seconds * fps);
  const spsNal = sps(mbWidth, mbHeight);
  const ppsNal = pps();

  const samples = [];
  const white = yuv([255, 255, 255]);
  for (let f = 0; f < frames; f++) {
    const second = Math.floor(f / fps);
    const background = yuv(SECOND_COLORS[second % SECOND_COLORS.length]);
    const barEnd = Math.round((((f % fps) + 1) / fps) * width);
    const barTop = height - 16;
    const slice = idrSlice(mbWidth, mbHeight, f % 2, (x, y) => (y >= barTop && x < barEnd ? white : background));
    samples.push(Buffer.concat([u32(slice.length), slice])); // avcC samples: 4-byte length, then the NAL unit
  }

  const avcC = box(
    'avcC',
    u8(1), // configurationVersion
    spsNal.subarray(1, 4), // profile, compatibility, level
    u8(0xff), // lengthSizeMinusOne = 3
    u8(0xe1), // one SPS
    u16(spsNal.length),
    spsNal,
    u8(1), // one PPS
    u16(ppsNal.length),
    ppsNal,
  );
  const name = Buffer.alloc(32);
  name.write('\x0aMainspring', 'latin1');
  const avc1 = box(
    'avc1',
    zeros(6),
    u16(1), // data_reference_index
    zeros(16),
    u16(width),
    u16(height),
    u32(0x00480000), // 72 dpi
    u32(0x00480000),
    u32(0),
    u16(1), // frame_count
    name,
    u16(0x18), // depth
    u16(0xffff), // pre_defined = -1
    avcC,
  );

  const durationMs = Math.round((frames / fps) * 1000);
  // One sample per chunk: stco holds every sample's offset, known once moov's size is.
  const moovFor = (offsets) =>
    box(
      'moov',
      fullBox(
        'mvhd',
        0,
        0,
        u32(0), // creation_time
        u32(0), // modification_time
        u32(1000), // timescale: milliseconds
        u32(durationMs),
        u32(0x10000), // rate 1.0
        u16(0x100), // volume 1.0
        zeros(10),
        UNITY_MATRIX,
        zeros(24),
        u32(2), // next_track_ID
      ),
      box(
        'trak',
        fullBox(
          'tkhd',
          0,
          3, // enabled, in the movie
          u32(0), // creation_time
          u32(0), // modification_time
          u32(1), // track_ID
          u32(0),
          u32(durationMs),
          zeros(8),
          u16(0), // layer
          u16(0), // alternate_group
          u16(0), // volume: none, a video track
          u16(0),
          UNITY_MATRIX,
          u32(width << 16), // 16.16 fixed point
          u32(height << 16),
        ),
        box(
          'mdia',
          fullBox('mdhd', 0, 0, u32(0), u32(0), u32(fps), u32(frames), u16(0x55c4), u16(0)), // timescale = fps: one tick a frame; language 'und'
          fullBox('hdlr', 0, 0, u32(0), Buffer.from('vide', 'latin1'), zeros(12), Buffer.from('VideoHandler\0', 'latin1')),
          box(
            'minf',
            fullBox('vmhd', 0, 1, zeros(8)),
            box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1))),
            box(
              'stbl',
              fullBox('stsd', 0, 0, u32(1), avc1),
              fullBox('stts', 0, 0, u32(1), u32(frames), u32(1)),
              // no stss box: every sample is a sync sample
              fullBox('stsc', 0, 0, u32(1), u32(1), u32(1), u32(1)),
              fullBox('stsz', 0, 0, u32(0), u32(frames), ...samples.map((s) => u32(s.length))),
              fullBox('stco', 0, 0, u32(frames), ...offsets.map(u32)),
            ),
          ),
        ),
      ),
    );

  const ftyp = box('ftyp', Buffer.from('isom', 'latin1'), u32(0x200), Buffer.from('isomiso2avc1mp41', 'latin1'));
  const moovSize = moovFor(new Array(frames).fill(0)).length;
  const offsets = [];
  let at = ftyp.length + moovSize + 8; // after mdat's header
  for (const s of samples) {
    offsets.push(at);
    at += s.length;
  }
  return Buffer.concat([ftyp, moovFor(offsets), box('mdat', ...samples)]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [out, seconds = '10'] = process.argv.slice(2);
  if (!out) {
    console.error('usage: node examples/streaming/test-video.mjs OUT.mp4 [SECONDS]');
    process.exit(2);
  }
  const { writeFile } = await import('node:fs/promises');
  const video = makeTestVideo({ seconds: Number(seconds) });
  await writeFile(out, video);
  console.log(`${out}: ${video.length} bytes, ${seconds} s of 320×240 H.264`);
}
