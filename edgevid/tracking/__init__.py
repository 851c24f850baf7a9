"""Multi-object tracking: stable ids for detections across frames (ByteTrack-style association)."""
