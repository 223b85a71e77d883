"""Thin translators between the boosters' calling conventions and the loss objects.

They unpack labels, weights and raw margins, call ``loss.gradient_hessian`` / ``loss.mean_loss``, and
shape the results the way each booster wants them. They hold no math.
"""
