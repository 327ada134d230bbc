"""Strategies, pure: the plugin interface, orders and signals, sizing, configs and built-ins."""
