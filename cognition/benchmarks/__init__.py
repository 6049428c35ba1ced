"""`make bench`: our code against its floor, side by side, at two data sizes."""
