# helix_deploy --validate FILE --json REPORT must exit 0, print one row per measurement and the
# closing summary, and write the report; with MAX_MEDIAN given, the median |error| of the report
# must not exceed it (issue 12's bar for the calibration set: 0.25).
# Usage: cmake -DDEPLOY=<helix_deploy> -DFILE=<measurements> -DWORK=<scratch folder>
#              [-DMAX_MEDIAN=<fraction>] -P validation_run.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(json "${WORK}/report.json")
execute_process(COMMAND "${DEPLOY}" --validate "${FILE}" --json "${json}"
                RESULT_VARIABLE code OUTPUT_VARIABLE output ERROR_VARIABLE errors)
message("${output}${errors}")
if(NOT code EQUAL 0)
  message(FATAL_ERROR "helix_deploy --validate exited with ${code}")
endif()
if(NOT output MATCHES "\nmedian [|]error[|] [0-9.]+%, max [|]error[|] [0-9.]+% over [0-9]+ measurements\nworst: #[0-9]+")
  message(FATAL_ERROR "no summary line and worst row in the output")
endif()
file(READ "${json}" document)
string(JSON rows LENGTH "${document}" rows)
string(JSON median GET "${document}" median_abs_error)
string(JSON max GET "${document}" max_abs_error)
string(JSON worst GET "${document}" worst_row)
string(JSON worst_error GET "${document}" rows ${worst} error)
foreach(key source model hardware dtype plan batch input_tokens output_tokens metric predicted
            measured error)
  string(JSON value ERROR_VARIABLE missing GET "${document}" rows 0 ${key})
  if(missing)
    message(SEND_ERROR "rows[0] has no '${key}'")
  endif()
endforeach()
# The table has a row per entry of the report: "| <n> | " opens each.
string(REGEX MATCHALL "\n[|] [0-9]+ [|] " table_rows "${output}")
list(LENGTH table_rows printed)
if(NOT printed EQUAL rows)
  message(SEND_ERROR "${printed} rows printed, ${rows} in the report")
endif()
message("${rows} measurements: median |error| ${median}, max |error| ${max} (row ${worst}: ${worst_error})")
if(DEFINED MAX_MEDIAN AND median GREATER MAX_MEDIAN)
  message(FATAL_ERROR "median |error| ${median} exceeds ${MAX_MEDIAN}")
endif()
file(REMOVE_RECURSE "${WORK}")
