"""Events: objects followed from frame to frame (``tracker``) and the
``new|update|end`` event lines written for them (``writer``)."""
