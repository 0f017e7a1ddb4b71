"""From camera video to silhouettes: `mimicgait silhouettes`, and the API behind it.

    from mimicgait.video import extract
    result = extract("001-nm-05-090.avi", background="auto")   # or a clip/image path, or None
    result.frames       # [T, 64, 64] uint8 in {0, 1}, as the data layer's SequenceRecord.frames
    result.frame_index  # [T] the video frame each silhouette came from
    result.sequence     # SequenceId(subject='001', condition='nm-05', view='090'), or None
    result.quality      # kept / dropped (missing, edge, small) / mean person height / warnings
    result.record()     # a mimicgait.data.records.SequenceRecord

`extract(source, background='auto', segmenter=None, *, sequence=None, size=(64, 64),
foreground=None, tracking=None, batch=64, preview=False) -> Extraction`
(None: the default `ForegroundSettings()` / `TrackSettings()`)
takes a video file or a folder of frames (PNG/JPG, name order). For a model's input, scale the
frames to 0..1 floats (`torch.from_numpy(result.frames).float()` already is, since they are 0/1).
It raises `NoPersonError` (a `mimicgait.errors.UserError`) when no frame shows a usable person,
and `UserError` for input it cannot read (OpenCV missing: `pip install mimicgait[video]`).

Several people: `extract_people(source, ...) -> VideoPeople` tracks everyone in view (`.tracks`,
one `TrackExtraction` each with its `hidden` share per kept frame; `.masks`, `.boxes`, `.hidden` per
track and video frame); `PeopleStream` does it batch by batch for live use (`mimicgait watch`).

Modules, one step each: `decode` (OpenCV, streamed batches), `background` (per-pixel median of a
clip or of the video itself), `foreground` (colour distance, shadow suppression, morphology),
`segmenter` (the `module:function` hook), `track` (the person as the dominant component, frames
dropped as the CASIA-B release drops them), `extract` (the pipeline, using the data layer's
pretreatment), `naming` (`<sid>-<cond>-<nn>-<view>` names), `write` (dataset layouts, preview GIF),
`agreement` (best-offset IoU with reference silhouettes); for several people `blobs` (one
detection per person), `appearance` (shape, colour and motion models that split merged blobs),
`people` (the tracker), `annotate` (boxes and answers drawn on the video), `live` (identifying
tracks as frames come), `crossing` (two-walker test footage with exact truth). See docs/video.md.
"""

from mimicgait.video.agreement import Agreement, aligned_iou
from mimicgait.video.background import AUTO, load_background, median_background
from mimicgait.video.decode import FrameReader, require_cv2
from mimicgait.video.extract import Extraction, NoPersonError, Quality, extract
from mimicgait.video.foreground import ForegroundSettings, foreground_masks
from mimicgait.video.naming import SequenceId, is_background_clip, parse_id_option, parse_sequence_name
from mimicgait.video.people import PeopleSettings, PeopleStream, TrackExtraction, VideoPeople, extract_people
from mimicgait.video.segmenter import load_segmenter
from mimicgait.video.track import PersonTracker, TrackSettings

__all__ = [
    "AUTO", "Agreement", "Extraction", "ForegroundSettings", "FrameReader", "NoPersonError",
    "PeopleSettings", "PeopleStream", "PersonTracker", "Quality", "SequenceId", "TrackExtraction",
    "TrackSettings", "VideoPeople", "aligned_iou", "extract", "extract_people",
    "foreground_masks", "is_background_clip", "load_background", "load_segmenter",
    "median_background", "parse_id_option", "parse_sequence_name", "require_cv2",
]
