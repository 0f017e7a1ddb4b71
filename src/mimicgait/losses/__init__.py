"""mimicgait.losses"""
