"""mimicgait.eval"""
