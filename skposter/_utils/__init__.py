"""Private helpers shared by skposter's subpackages."""
