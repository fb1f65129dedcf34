"""The view's logic without Qt and without sockets: everything here is driven by plain method calls."""
