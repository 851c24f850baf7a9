"""A real RTSP server for tests: GStreamer's gst-rtsp-server streaming a folder of JPEG frames in a loop.

Run with a Python that has PyGObject and GStreamer (Debian: python3-gi, python3-gst-1.0,
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/-ugly)::

    /usr/bin/python3 -m edgevid.testing.rtsp_server PORT FRAMES_DIR [FPS]

It serves rtsp://127.0.0.1:PORT/test (H.264) until killed, and prints "ready" once listening.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """Serve ``FRAMES_DIR/frame%03d.jpg`` in a loop at ``FPS`` frames per second."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    port, folder = argv[0], argv[1]
    fps = int(argv[2]) if len(argv) > 2 else 10
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( multifilesrc location={folder}/frame%03d.jpg loop=true caps=image/jpeg,framerate={fps}/1 "
        "! jpegdec ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 "
        "! rtph264pay name=pay0 pt=96 )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/test", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1:])
