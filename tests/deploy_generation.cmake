# helix_deploy --output-tokens: a generation prints TTFT, TPOT, e2e and output tokens per second
# (and per GPU) per plan, ranks plans with no seed plan among them by the objective instead of
# judging the seed's claims, and writes plans[].cost.generation, memory_per_device, each plan's
# text and the workload's sizes to --json.
# Usage: cmake -DDEPLOY=<helix_deploy> -DWORK=<scratch folder> -P deploy_generation.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(json "${WORK}/report.json")
execute_process(COMMAND "${DEPLOY}" --model llama3_70b --plan tp=4 --plan tp=8 --batch 2
                        --input-tokens 128 --output-tokens 16 --no-verify --views none
                        --json "${json}"
                RESULT_VARIABLE code OUTPUT_VARIABLE output ERROR_VARIABLE errors)
message("${output}${errors}")
if(NOT code EQUAL 0)
  message(FATAL_ERROR "helix_deploy exited with ${code}")
endif()
foreach(words "ranked by tokens/s/GPU (best first)"
              "| fits | TTFT | TPOT | e2e | bubble | tokens/s | tokens/s/GPU |"
              "batch 2, 128 input and 16 output" "KV lengths 129 … 143" "- tp_8 (tp=8): TTFT ")
  string(FIND "${output}" "${words}" at)
  if(at EQUAL -1)
    message(SEND_ERROR "the output does not say '${words}'")
  endif()
endforeach()
string(FIND "${output}" "claims judged" at)
if(NOT at EQUAL -1)
  message(SEND_ERROR "no seed plan is compared, yet claims are judged")
endif()

file(READ "${json}" document)
# Each key path and the value it must hold ("NUMBER": any number).
set(expected
  "workload|phase" "prefill"   "workload|batch" "2"   "workload|input_tokens" "128"
  "workload|output_tokens" "16"   "workload|microbatches" "1"   "workload|dtype" "bf16"
  "workload|kv_dtype" "bf16"   "workload|attention" "flash"   "objective" "tokens_per_s_per_gpu"
  "plans|0|plan" "tp=4"   "plans|1|plan" "tp=8"   "plans|0|name" "tp_4 (tp=4)"
  "plans|0|rank" "NUMBER"   "plans|1|rank" "NUMBER"
  "plans|0|cost|memory_per_device|weights" "NUMBER"
  "plans|0|cost|memory_per_device|kv_cache" "NUMBER"
  "plans|0|cost|memory_per_device|activations" "NUMBER"
  "plans|0|cost|memory_per_device|total" "NUMBER"
  "plans|1|cost|generation|ttft_s" "NUMBER"   "plans|1|cost|generation|tpot_s" "NUMBER"
  "plans|1|cost|generation|e2e_s" "NUMBER"
  "plans|1|cost|generation|output_tokens_per_s" "NUMBER"
  "plans|1|cost|generation|output_tokens_per_s_per_gpu" "NUMBER"
  "plans|1|cost|generation|decode|kv_lengths|0" "129"
  "plans|1|cost|generation|decode|kv_lengths|1" "143"
  "plans|1|cost|tokens_per_s" "NUMBER"   "plans|1|cost|makespan_s" "NUMBER")
list(LENGTH expected n)
math(EXPR last "${n} - 1")
foreach(i RANGE 0 ${last} 2)
  math(EXPR j "${i} + 1")
  list(GET expected ${i} path)
  list(GET expected ${j} value)
  string(REPLACE "|" ";" keys "${path}")
  string(JSON type ERROR_VARIABLE missing TYPE "${document}" ${keys})
  string(JSON actual ERROR_VARIABLE missing GET "${document}" ${keys})
  if(missing)
    message(SEND_ERROR "${path}: ${missing}")
  elseif(value STREQUAL "NUMBER" AND NOT type STREQUAL "NUMBER")
    message(SEND_ERROR "${path} is ${type} '${actual}', not a number")
  elseif(NOT value STREQUAL "NUMBER" AND NOT actual STREQUAL value)
    message(SEND_ERROR "${path} is '${actual}', not '${value}'")
  endif()
endforeach()
message("generation printed and written")
