"""Events from results: tracks entering or leaving zones, crossing lines, motion starting or stopping."""
