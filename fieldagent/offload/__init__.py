"""What leaves the device: the decisions between an analysed image and the outbox.

One module per concern, in the order an image meets them:

* ``offloader``: for each ``ImageResult``, the records, the alerts with their evidence and
  the sampled image, put into the outbox (``Offloader``, ``image_records``);
* ``sampling``: which images a camera keeps, and how they are encoded (``ImageSampler``);
* ``degrade``: how far down the policy's degradation ladder the agent stands, and what a
  rung means for the samplers (``DegradePlanner``, ``DegradeSource``); the uplink measures
  the link and keeps the level, the offloader reads it;
* ``batcher``: when signal records close into a batch object (``SignalBatcher``);
* ``journal``: where accepted records wait until their batch is in the outbox, with the
  ledger of handled images and the cameras' checkpoints (``RecordJournal``).

The outbox below is only the durable queue and never imports this package; the policy is
only data. Import from the modules: this package re-exports nothing, so the uplink can use
``degrade`` without loading the image code.
"""
