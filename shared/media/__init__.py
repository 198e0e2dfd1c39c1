"""Media tools behind one seam each: the ffmpeg binary, images."""
