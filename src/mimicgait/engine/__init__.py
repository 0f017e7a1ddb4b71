"""mimicgait.engine"""
