"""The sweep report: one self-contained HTML file of a sweep, with Optuna's plots for Optuna sweeps."""
