"""Traffic and value analytics of a replayed capture: streaming, bounded, deterministic.

The analyzers feed it as the capture streams past, and the replay asks for
:meth:`Analytics.summary` (JSON) and :meth:`Analytics.plots` (for the HTML
report) at the end::

    a = Analytics()
    a.frame("10.0.0.1:49152 > 10.0.0.5:502", "modbus-tcp", t, len(payload))
    a.message("10.0.0.1:49152 > 10.0.0.5:502", t)
    a.value("10.0.0.5:502 u1 hr[40]", t, 1234.0)
    a.values("10.0.0.5:502 u1 hr", 40, t, (1234, 1235, 7))   # hr[40], hr[41], hr[42]

Theory of operation
-------------------
Time is an input: every estimate runs on *capture* time (the frame
timestamps), never on the wall clock, so a replay gives the same numbers at
any speed, on any machine, every time. Nothing iterates a set or hashes a
float, so the output is deterministic; and since every statistic is a
deterministic function of the calls made, an :class:`Analytics` fed in
another process (:mod:`..analytics_process`, which pickles it back) gives
the same numbers as one fed in place.

The work is split along its four concerns, one module each (each opens
with its own theory of operation):

- :mod:`.feeder`: :class:`Analytics`, what the replay calls (frames,
  messages, values, a batch at a time) and the state it keeps per flow and
  per series, within its bounds;
- :mod:`.buffer`: :class:`ValueBuffer`, which holds register rows per
  block so that statistics merge whole columns (shared with the analytics
  process, so both run the same batches);
- :mod:`.stats` and :mod:`.buckets`: the streaming numeric building blocks
  (moments, the z-score anomaly rule, trends, inter-arrival timing, the
  bandwidth EWMAs; a batch's times and the coarsening plot tracks);
- :mod:`.render`: the state turned into the summary dict, the plot data and
  the text lines (:func:`summary_lines`).

This package is what :mod:`wireproof.harness.replay.analytics` was as one
module: the public names are re-exported here, and so are its private
helpers (the tests reach some), by their old path.
"""

from wireproof.harness.replay.analytics.buckets import _Buckets as _Buckets
from wireproof.harness.replay.analytics.buckets import _Times as _Times
from wireproof.harness.replay.analytics.buffer import BlockKey, ValueBuffer
from wireproof.harness.replay.analytics.buffer import _Block as _Block
from wireproof.harness.replay.analytics.feeder import Analytics
from wireproof.harness.replay.analytics.feeder import _Flow as _Flow
from wireproof.harness.replay.analytics.feeder import _Series as _Series
from wireproof.harness.replay.analytics.render import _first as _first
from wireproof.harness.replay.analytics.render import _fmt as _fmt
from wireproof.harness.replay.analytics.render import _traffic_plot as _traffic_plot
from wireproof.harness.replay.analytics.render import _value_plot as _value_plot
from wireproof.harness.replay.analytics.render import summary_lines
from wireproof.harness.replay.analytics.stats import _Anomalies as _Anomalies
from wireproof.harness.replay.analytics.stats import _corrected as _corrected
from wireproof.harness.replay.analytics.stats import _ewma as _ewma
from wireproof.harness.replay.analytics.stats import _Moments as _Moments
from wireproof.harness.replay.analytics.stats import _num as _num
from wireproof.harness.replay.analytics.stats import _record as _record
from wireproof.harness.replay.analytics.stats import _Regression as _Regression
from wireproof.harness.replay.analytics.stats import _Timing as _Timing

__all__ = ["Analytics", "BlockKey", "ValueBuffer", "summary_lines"]
