# Runs the fuzzer for SECONDS over a copy of the seed corpus; fails on any finding.
file(REMOVE_RECURSE "${WORK}")
file(COPY "${CORPUS}/" DESTINATION "${WORK}")
execute_process(COMMAND "${FUZZER}" "${WORK}" -max_total_time=${SECONDS} -print_final_stats=1
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "fuzz_plan found a problem (exit ${result}); the crashing input is in the working directory")
endif()
