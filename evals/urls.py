"""URLs of test cases, checks and runs."""

from django.urls import path

from evals.views import cases, runs

urlpatterns = [
    # A prompt's table of test cases, its checks and its runs
    path("prompts/<int:pk>/cases/", cases.test_cases, name="test_cases"),
    path("prompts/<int:pk>/cases/add/", cases.case_add, name="case_add"),
    path("prompts/<int:pk>/cases/paste/", cases.case_paste, name="case_paste"),
    path("prompts/<int:pk>/cases/import/", cases.case_import, name="case_import"),
    path("prompts/<int:pk>/cases/export.csv", cases.case_export, {"fmt": "csv"}, name="case_csv"),
    path(
        "prompts/<int:pk>/cases/export.jsonl",
        cases.case_export,
        {"fmt": "jsonl"},
        name="case_jsonl",
    ),
    path("cases/<int:pk>/", cases.case_edit, name="case_edit"),
    path("cases/<int:pk>/delete/", cases.case_delete, name="case_delete"),
    path("cases/<int:pk>/move/", cases.case_move, name="case_move"),
    path("prompts/<int:pk>/checks/", cases.check_add, name="check_add"),
    path("checks/<int:pk>/delete/", cases.check_delete, name="check_delete"),
    path("prompts/<int:pk>/runs/", runs.run_start, name="run_start"),
    # One run
    path("runs/<int:pk>/", runs.run_detail, name="run"),
    path("runs/<int:pk>/stop/", runs.run_stop, name="run_stop"),
    path("runs/<int:pk>/retry/", runs.run_retry, name="run_retry"),
    path("runs/<int:pk>/share/", runs.run_share, name="run_share"),
    path("runs/<int:pk>/unshare/", runs.run_unshare, name="run_unshare"),
    path("runs/<int:pk>/export.jsonl", runs.run_export, name="run_export"),
    path("runs/rows/<int:pk>/continue/", runs.row_continue, name="row_continue"),
    # Runs side by side
    path("runs/compare/", runs.run_compare, name="run_compare"),
    path("runs/compare/share/", runs.run_compare_share, name="run_compare_share"),
    path("shared/runs/compare/", runs.shared_compare, name="shared_compare"),
    path("shared/runs/<str:token>/", runs.shared_run, name="shared_run"),
]
