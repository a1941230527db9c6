"""Just enough H.264 bitstream work to repeat a still picture without re-encoding it.

A slide's video is one keyframe followed by frames identical to it. Instead of asking x264
to analyse hundreds of identical frames, we write those frames directly: P slices whose
every macroblock is skipped (a copy of the previous frame, which costs no analysis and a
few bytes). The sequence and picture parameter sets of the keyframe's own encoder tell us
the header fields to write (H.264 spec, 7.3.2.1, 7.3.2.2, 7.3.3, 7.3.4, E.1.1).

Nothing here depends on the frame rate: it lives in the SPS timing the encoder wrote, and
the copies count frames, not time. What the hand-written slices cannot express (fields,
several slices per picture, CABAC, per-picture timing SEI) or what cannot be read raises
UnsupportedStream, never is written wrong; media_pipeline.video then encodes every frame
with x264 instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

from media_pipeline.errors import VideoAssemblyError

NAL_SLICE = 1
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


class UnsupportedStream(VideoAssemblyError):
    """The keyframes use something the hand-written copies cannot follow; the message says what."""


@dataclass(frozen=True)
class SequenceParameters:
    sps_id: int
    log2_max_frame_num: int
    pic_order_cnt_type: int
    log2_max_pic_order_cnt_lsb: int
    macroblocks: int
    max_num_ref_frames: int
    # From the VUI timing, None when the encoder wrote none: what players take as the rate.
    frame_rate: Fraction | None


@dataclass(frozen=True)
class PictureParameters:
    pps_id: int
    sps_id: int
    cabac: bool
    bottom_field_pic_order_present: bool
    weighted_pred: bool
    deblocking_filter_control_present: bool
    redundant_pic_cnt_present: bool


@dataclass(frozen=True)
class NalUnit:
    start: int  # offset of its start code
    end: int
    nal_type: int


class _BitReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def bit(self) -> int:
        byte = self.data[self.position >> 3]
        value = (byte >> (7 - (self.position & 7))) & 1
        self.position += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


class _BitWriter:
    def __init__(self) -> None:
        self.bits_out: list[int] = []

    def bits(self, value: int, count: int) -> None:
        self.bits_out.extend((value >> (count - 1 - i)) & 1 for i in range(count))

    def ue(self, value: int) -> None:
        code = value + 1
        length = code.bit_length()
        self.bits(0, length - 1)
        self.bits(code, length)

    def rbsp(self) -> bytes:
        bits = [*self.bits_out, 1]  # rbsp_stop_one_bit, then zeros to the byte boundary
        bits.extend([0] * (-len(bits) % 8))
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def nal_units(stream: bytes) -> list[NalUnit]:
    """Return the NAL units of an Annex B stream, each spanning its own start code."""
    starts: list[tuple[int, int]] = []  # (start code offset, payload offset)
    position = stream.find(b"\x00\x00\x01")
    while position != -1:
        offset = position - 1 if position > 0 and stream[position - 1] == 0 else position
        starts.append((offset, position + 3))
        position = stream.find(b"\x00\x00\x01", position + 3)
    units = []
    for index, (offset, payload) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(stream)
        units.append(NalUnit(offset, end, stream[payload] & 0x1F))
    return units


def split_access_units(stream: bytes) -> list[bytes]:
    """Return each picture of a stream with one slice per picture, with the units before it."""
    pictures: list[bytes] = []
    start: int | None = None
    for unit in nal_units(stream):
        if start is None:
            start = unit.start
        if unit.nal_type in (NAL_SLICE, NAL_IDR):
            pictures.append(stream[start : unit.end])
            start = None
    return pictures


def _rbsp(stream: bytes, unit: NalUnit) -> bytes:
    """Return a NAL unit's payload without its header byte and emulation prevention bytes."""
    payload = stream[stream.index(b"\x00\x00\x01", unit.start) + 4 : unit.end]
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


def _escape(rbsp: bytes) -> bytes:
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def parse_sps(rbsp: bytes) -> SequenceParameters:
    reader = _BitReader(rbsp)
    profile_idc = reader.bits(8)
    reader.bits(16)  # constraint flags, level_idc
    sps_id = reader.ue()
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = reader.ue()
        if chroma_format_idc == 3 and reader.bit():
            raise UnsupportedStream("The encoder coded colour planes separately; not supported.")
        reader.ue()
        reader.ue()
        reader.bit()
        if reader.bit():
            raise UnsupportedStream("The encoder wrote custom scaling matrices; not supported.")
    log2_max_frame_num = reader.ue() + 4
    poc_type = reader.ue()
    log2_max_poc_lsb = 0
    if poc_type == 0:
        log2_max_poc_lsb = reader.ue() + 4
    elif poc_type == 1:
        raise UnsupportedStream("The encoder used picture order count type 1; not supported.")
    max_num_ref_frames = reader.ue()
    reader.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = reader.ue() + 1
    height_mbs = reader.ue() + 1
    if not reader.bit():  # frame_mbs_only_flag
        # Field or MBAFF coding: a copy would need field syntax and macroblock pairs.
        raise UnsupportedStream("The encoder coded interlaced video (fields); not supported.")
    reader.bit()  # direct_8x8_inference_flag
    if reader.bit():  # frame_cropping_flag
        for _ in range(4):
            reader.ue()
    frame_rate = _parse_vui(reader) if reader.bit() else None
    return SequenceParameters(
        sps_id, log2_max_frame_num, poc_type, log2_max_poc_lsb, width_mbs * height_mbs,
        max_num_ref_frames, frame_rate,
    )  # fmt: skip


def _parse_vui(reader: _BitReader) -> Fraction | None:
    """Return the frame rate the VUI states; refuse what needs timing SEI in every picture."""
    # aspect_ratio_info_present_flag, then aspect_ratio_idc: Extended_SAR has its own
    if reader.bit() and reader.bits(8) == 255:
        reader.bits(32)
    if reader.bit():  # overscan_info_present_flag
        reader.bit()
    if reader.bit():  # video_signal_type_present_flag
        reader.bits(4)
        if reader.bit():  # colour_description_present_flag
            reader.bits(24)
    if reader.bit():  # chroma_loc_info_present_flag
        reader.ue()
        reader.ue()
    frame_rate = None
    if reader.bit():  # timing_info_present_flag
        num_units_in_tick, time_scale = reader.bits(32), reader.bits(32)
        reader.bit()  # fixed_frame_rate_flag
        if num_units_in_tick and time_scale:
            # A frame lasts two ticks (E.2.1: a tick is one field).
            frame_rate = Fraction(time_scale, 2 * num_units_in_tick)
    # HRD parameters require buffering and timing SEI with every picture; copies carry none.
    if reader.bit() or reader.bit():  # nal_/vcl_hrd_parameters_present_flag
        raise UnsupportedStream("The encoder wrote HRD parameters (nal-hrd); not supported.")
    if reader.bit():  # pic_struct_present_flag: every picture would need a pic timing SEI
        raise UnsupportedStream("The encoder wrote picture timing (pic-struct); not supported.")
    return frame_rate


def parse_pps(rbsp: bytes) -> PictureParameters:
    reader = _BitReader(rbsp)
    pps_id, sps_id = reader.ue(), reader.ue()
    cabac = bool(reader.bit())
    bottom_field_pic_order_present = bool(reader.bit())
    if reader.ue() != 0:
        raise UnsupportedStream("The encoder used slice groups; not supported.")
    reader.ue()
    reader.ue()  # num_ref_idx_l0/l1_default_active_minus1
    weighted_pred = bool(reader.bit())
    reader.bits(2)  # weighted_bipred_idc
    reader.se()
    reader.se()
    reader.se()  # pic_init_qp, pic_init_qs, chroma_qp_index_offset
    deblocking_filter_control_present = bool(reader.bit())
    reader.bit()  # constrained_intra_pred_flag
    redundant_pic_cnt_present = bool(reader.bit())
    return PictureParameters(
        pps_id, sps_id, cabac, bottom_field_pic_order_present, weighted_pred,
        deblocking_filter_control_present, redundant_pic_cnt_present,
    )  # fmt: skip


def _parameters_of_one_keyframe(
    stream: bytes,
) -> tuple[SequenceParameters | None, PictureParameters | None]:
    """Return the last SPS and PPS of a stream that must hold one single-slice IDR picture."""
    units = nal_units(stream)
    slices = [unit for unit in units if unit.nal_type in (NAL_SLICE, NAL_IDR)]
    if len(slices) != 1 or slices[0].nal_type != NAL_IDR:
        raise UnsupportedStream("The encoder did not produce exactly one keyframe here.")
    if _BitReader(_rbsp(stream, slices[0])).ue() != 0:  # first_mb_in_slice
        # Each slice after a picture's first is split off as if it were a picture.
        raise UnsupportedStream(
            "The encoder split a keyframe into several slices; repeated frames need one "
            "slice per picture (x264 threads=1, no slices)."
        )
    sps = pps = None
    for unit in units:
        if unit.nal_type == NAL_SPS:
            sps = parse_sps(_rbsp(stream, unit))
        elif unit.nal_type == NAL_PPS:
            pps = parse_pps(_rbsp(stream, unit))
    return sps, pps


@dataclass(frozen=True)
class StillPicture:
    """A one-frame encode of a slide, and what is needed to write frames repeating it."""

    keyframe: bytes  # parameter sets and the IDR picture, ready to write
    sps: SequenceParameters
    pps: PictureParameters

    @classmethod
    def from_stream(cls, stream: bytes) -> StillPicture:
        """Return the picture of a one-keyframe stream; raise UnsupportedStream if unusable."""
        try:
            sps, pps = _parameters_of_one_keyframe(stream)
        except (IndexError, ValueError) as exc:
            # A truncated or malformed unit ends the bit reader early: copies written from
            # what was read so far could be wrong, so none are written.
            raise UnsupportedStream(
                "The encoder's parameter sets or keyframe could not be read."
            ) from exc
        if sps is None or pps is None:
            raise UnsupportedStream("The encoder did not write parameter sets with a keyframe.")
        if sps.max_num_ref_frames < 1:
            # An intra-only sequence: P frames referring to the keyframe would break it.
            raise UnsupportedStream("The keyframe's sequence allows no reference frames.")
        if pps.cabac or pps.weighted_pred:
            raise UnsupportedStream("Repeated frames need an encode with cabac=0 and weightp=0.")
        if pps.sps_id != sps.sps_id:
            raise UnsupportedStream("The keyframe's parameter sets do not refer to each other.")
        return cls(stream, sps, pps)

    def repeat_frame(self, frame_number: int) -> bytes:
        """Return the NAL unit of frame `frame_number` (>= 1) after the keyframe: a copy of it."""
        # A copy depends only on the parameter sets and its number, which every slide of a
        # video shares: made once, not once per slide (a 100-slide video repeats 50 of them).
        return _repeat_frame(self.sps, self.pps, frame_number)


@functools.lru_cache(maxsize=4096)
def _repeat_frame(sps: SequenceParameters, pps: PictureParameters, frame_number: int) -> bytes:
    writer = _BitWriter()
    writer.ue(0)  # first_mb_in_slice
    writer.ue(5)  # slice_type: P, and every slice of the picture is P
    writer.ue(pps.pps_id)
    writer.bits(frame_number % (1 << sps.log2_max_frame_num), sps.log2_max_frame_num)
    if sps.pic_order_cnt_type == 0:
        lsb = (2 * frame_number) % (1 << sps.log2_max_pic_order_cnt_lsb)
        writer.bits(lsb, sps.log2_max_pic_order_cnt_lsb)
        if pps.bottom_field_pic_order_present:
            writer.ue(0)  # delta_pic_order_cnt_bottom (se 0 == ue 0)
    if pps.redundant_pic_cnt_present:
        writer.ue(0)
    writer.bits(0, 1)  # num_ref_idx_active_override_flag
    writer.bits(0, 1)  # ref_pic_list_modification_flag_l0
    writer.bits(0, 1)  # adaptive_ref_pic_marking_mode_flag: sliding window
    writer.ue(0)  # slice_qp_delta (se 0 == ue 0)
    if pps.deblocking_filter_control_present:
        writer.ue(1)  # disable_deblocking_filter_idc: nothing to filter in a copy
    writer.ue(sps.macroblocks)  # mb_skip_run: every macroblock is skipped
    header = bytes([0x41])  # nal_ref_idc 2, nal_unit_type 1 (non-IDR slice)
    return b"\x00\x00\x00\x01" + header + _escape(writer.rbsp())
