"""The registration form (登记表) as a file: template, import, export.

Pure parts, each a small module: ``layout`` (the columns and where things sit),
``reading`` (a workbook or CSV into cells, refusing hostile files), ``checking``
(cells into registration rows and every problem at its cell), ``marking`` (the
workbook back with the problems marked) and ``writing`` (template, export, the
page to print). Thin parts: ``http`` (the routes), ``settings`` (limits and
switches) and ``cli`` (the command for integrators); the GraphQL mutation lives
in ``gateway.schema.forms``.
"""
