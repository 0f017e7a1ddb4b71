"""mimicgait.data"""
