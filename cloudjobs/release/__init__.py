"""Model releases: signing keys, signed publishing to a channel, and the fleet's outcomes.

``keys.main`` (``cloudjobs keys``), ``publish.main`` (``cloudjobs release``) and
``outcomes.main`` (``cloudjobs release-outcomes``). The devices' side is
``fieldagent.modelupdate``; both share its manifest and signing modules.
"""
