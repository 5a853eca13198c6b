# ragd build. `make` builds build/ragd (it installs nothing: when a package
# is missing it says which, and `make deps` installs them); `make run`,
# `make test` and `make bench` install what they need with apt-get (sudo
# when not root), then build and run; see README.md.

CC      ?= cc
CXX     ?= g++
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
# C++ only for the shims on hnswlib (src/rag/hnsw.cc, header-only C++) and
# simdjson (src/http/jread.cc, a C++ API), and for Xapian (tests/peer/xap.cc, a C++ API), the peer that the keyword
# index's tests and benchmark compare with; ragd itself does not link it.
CXXSTD  := -std=c++17 -D_GNU_SOURCE
CXXWARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
# Sanitizer builds leave out hnswlib's prefetching: it reads the link after
# a list's last one (hnswalg.h, searchBaseLayer), a harmless read of heap
# memory that AddressSanitizer rightly reports.
CXXSAN  := -DNO_MANUAL_VECTORIZATION
OPT     ?= -O2 -g
DEPFLAGS = -MMD -MP
PKGS    := sqlite3 libcmark libxml-2.0 poppler-glib libcurl simdjson
INCLUDES = -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS     = -lmicrohttpd -ljansson $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lz -lstdc++ -lpthread -lm -ldl
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

BUILD   := build
VERSION := $(shell cat VERSION)

LIB_SRC  := $(wildcard src/util/*.c src/metrics/*.c src/core/*.c src/http/*.c src/collectors/*.c src/rag/*.c src/gen/*.c src/answer/*.c src/server/*.c src/cli/*.c) \
            $(wildcard src/rag/*.cc src/http/*.cc)
MAIN_SRC := src/main.c
TEST_SRC := $(wildcard tests/unit/*.c)
PEER_SRC := tests/peer/xap.cc
PEER_LIBS = $(shell pkg-config --libs xapian-core 2>/dev/null)

# Debian packages each job needs (installed by scripts/deps.sh when missing).
PKG_BUILD := gcc g++ make libc6-dev pkg-config libhnswlib-dev libsimdjson-dev zlib1g-dev libmicrohttpd-dev libjansson-dev \
             libsqlite3-dev libcmark-dev libxml2-dev libpoppler-glib-dev libcurl4-openssl-dev \
             nodejs npm
# libclang-rt-14-dev holds clang's libFuzzer and sanitizer runtimes; clang
# only recommends it, and deps.sh installs without recommends.
PKG_TEST  := $(PKG_BUILD) libxapian-dev clang libclang-rt-14-dev clang-format git prometheus prometheus-alertmanager \
             prometheus-node-exporter docker-compose python3 python3-yaml curl sqlite3 bsdutils \
             chromium
PKG_BENCH := $(PKG_BUILD) libxapian-dev python3 python3-prometheus-client wrk curl python3-fastapi python3-uvicorn \
             valgrind python3-xapian python3-hnswlib python3-faiss python3-numpy debian-reference-en debian-reference-ja \
             chromium poppler-utils

# Quiet recipes print "  CC  file"; `make V=1` prints the whole commands.
ifeq ($(V),1)
show =
else
show = @printf '  %-4s %s\n' '$(1)' '$(2)';
endif

obj = $(patsubst %.cc,$(1)/obj/%.o,$(patsubst %.c,$(1)/obj/%.o,$(2)))

# The files of /dashboard, embedded in every binary (scripts/embed-assets):
# ours, uPlot (npm, web/package.json), and the committed Grafana dashboard.
UPLOT       := web/node_modules/uplot/dist/uPlot.iife.min.js
DASH_ASSETS := web/dashboard.html web/dashboard.js web/dashboard.css $(UPLOT) \
               web/node_modules/uplot/dist/uPlot.min.css \
               monitoring/grafana/dashboards/rag-system-monitoring.json
ASSETS_OBJ  := $(BUILD)/gen/assets.o
NPM_STAMP   := web/node_modules/.ragd-installed

.SECONDARY: # keep intermediate objects (fuzz objects would be deleted and rebuilt)
.PHONY: all check-deps deps test-deps bench-deps run-deps npm-deps test unit bench bench-scale run clean format \
        format-check fuzz dashboard

all: check-deps $(BUILD)/ragd

# Installs run only through these targets. The jobs below install first and
# then build in a second make, so that pkg-config's flags are read after
# the packages are there.
check-deps:
	@scripts/deps.sh --check $(PKG_BUILD)
	@[ -f $(UPLOT) ] || { echo "missing npm packages (web/node_modules): 'make deps' installs them" >&2; exit 1; }
deps:
	@scripts/deps.sh $(PKG_BUILD)
	@$(MAKE) --no-print-directory npm-deps
test-deps:
	@scripts/deps.sh $(PKG_TEST)
	@$(MAKE) --no-print-directory npm-deps
bench-deps:
	@scripts/deps.sh $(PKG_BENCH)
	@$(MAKE) --no-print-directory npm-deps
run-deps:
	@scripts/deps.sh $(PKG_RUN)
	@$(MAKE) --no-print-directory npm-deps
# The npm packages of web/package-lock.json, exactly (npm ci), again only
# when the lock changes.
npm-deps: $(NPM_STAMP)
$(NPM_STAMP): web/package.json web/package-lock.json
	$(call show,NPM,web/node_modules) cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(ASSETS_OBJ): $(DASH_ASSETS) scripts/embed-assets
	@mkdir -p $(dir $@)
	$(call show,EMBED,$@) scripts/embed-assets $(@:.o=.S) $(DASH_ASSETS) && $(CC) -c $(@:.o=.S) -o $@

# --- release objects -------------------------------------------------------
$(BUILD)/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	$(call show,CC,$<) $(CC) $(CSTD) $(WARN) $(OPT) $(DEPFLAGS) $(INCLUDES) -DRAGD_VERSION='"$(VERSION)"' -c $< -o $@

$(BUILD)/obj/%.o: %.cc VERSION
	@mkdir -p $(dir $@)
	$(call show,CXX,$<) $(CXX) $(CXXSTD) $(CXXWARN) $(OPT) $(DEPFLAGS) $(INCLUDES) -c $< -o $@

$(BUILD)/libragd.a: $(call obj,$(BUILD),$(LIB_SRC)) $(ASSETS_OBJ)
	@rm -f $@
	$(call show,AR,$@) ar rcs $@ $^

$(BUILD)/ragd: $(call obj,$(BUILD),$(MAIN_SRC)) $(BUILD)/libragd.a
	$(call show,LD,$@) $(CC) $(OPT) -o $@ $^ $(LIBS)

$(BUILD)/test_unit: $(call obj,$(BUILD),$(TEST_SRC) $(PEER_SRC)) $(BUILD)/libragd.a
	$(call show,LD,$@) $(CC) $(OPT) -o $@ $^ $(LIBS) $(PEER_LIBS)

$(BUILD)/bench_metrics: $(call obj,$(BUILD),bench/bench_metrics.c) $(BUILD)/libragd.a
	$(call show,LD,$@) $(CC) $(OPT) -o $@ $^ $(LIBS)

$(BUILD)/bench_answer: $(call obj,$(BUILD),bench/bench_answer.c) $(BUILD)/libragd.a
	$(call show,LD,$@) $(CC) $(OPT) -o $@ $^ $(LIBS)

$(BUILD)/bench_scale: $(call obj,$(BUILD),bench/bench_scale.c) $(BUILD)/libragd.a
	$(call show,LD,$@) $(CC) $(OPT) -o $@ $^ $(LIBS)
$(BUILD)/bench_keywords: $(call obj,$(BUILD),bench/bench_keywords.c $(PEER_SRC)) $(BUILD)/libragd.a
	$(call show,LD,$@) $(CC) $(OPT) -o $@ $^ $(LIBS) $(PEER_LIBS)

$(BUILD)/bench_rag: $(call obj,$(BUILD),bench/bench_rag.c) $(BUILD)/libragd.a
	$(call show,LD,$@) $(CC) $(OPT) -o $@ $^ $(LIBS)

TOOLS := metrics_demo http_load http_echo
$(addprefix $(BUILD)/,$(TOOLS)): $(BUILD)/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libragd.a
	$(call show,LD,$@) $(CC) $(OPT) -o $@ $^ $(LIBS)

# A fake NVML for the GPU collector's tests (loaded by path).
$(BUILD)/fake_nvml/libnvidia-ml.so.1: tests/fake_nvml/fake_nvml.c
	@mkdir -p $(dir $@)
	$(call show,CC,$@) $(CC) $(CSTD) $(WARN) -O2 -fPIC -shared -Wl,-soname,libnvidia-ml.so.1 -o $@ $<

# --- sanitizer objects (ASan + UBSan) -------------------------------------
$(BUILD)/asan/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	$(call show,CC,$< (asan)) $(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(DEPFLAGS) $(INCLUDES) -DRAGD_VERSION='"$(VERSION)"' -c $< -o $@

$(BUILD)/asan/obj/%.o: %.cc VERSION
	@mkdir -p $(dir $@)
	$(call show,CXX,$< (asan)) $(CXX) $(CXXSTD) $(CXXWARN) $(CXXSAN) -O1 -g $(SAN) $(DEPFLAGS) $(INCLUDES) -c $< -o $@

$(BUILD)/asan/test_unit: $(call obj,$(BUILD)/asan,$(TEST_SRC) $(PEER_SRC) $(LIB_SRC)) $(ASSETS_OBJ)
	$(call show,LD,$@) $(CC) $(SAN) -o $@ $^ $(LIBS) $(PEER_LIBS)

# The server itself, for the second pass of the black-box suites.
$(BUILD)/asan/ragd: $(call obj,$(BUILD)/asan,$(MAIN_SRC) $(LIB_SRC)) $(ASSETS_OBJ)
	$(call show,LD,$@) $(CC) $(SAN) -o $@ $^ $(LIBS)

# --- ThreadSanitizer objects (the concurrent tests and suites) -------------
TSAN := -fsanitize=thread -fno-omit-frame-pointer
$(BUILD)/tsan/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	$(call show,CC,$< (tsan)) $(CC) $(CSTD) $(WARN) -O1 -g $(TSAN) $(DEPFLAGS) $(INCLUDES) -DRAGD_VERSION='"$(VERSION)"' -c $< -o $@

$(BUILD)/tsan/obj/%.o: %.cc VERSION
	@mkdir -p $(dir $@)
	$(call show,CXX,$< (tsan)) $(CXX) $(CXXSTD) $(CXXWARN) $(CXXSAN) -O1 -g $(TSAN) $(DEPFLAGS) $(INCLUDES) -c $< -o $@

$(BUILD)/tsan/test_unit: $(call obj,$(BUILD)/tsan,$(TEST_SRC) $(PEER_SRC) $(LIB_SRC)) $(ASSETS_OBJ)
	$(call show,LD,$@) $(CC) $(TSAN) -o $@ $^ $(LIBS) $(PEER_LIBS)

$(BUILD)/tsan/ragd: $(call obj,$(BUILD)/tsan,$(MAIN_SRC) $(LIB_SRC)) $(ASSETS_OBJ)
	$(call show,LD,$@) $(CC) $(TSAN) -o $@ $^ $(LIBS)

# --- fuzz targets (libFuzzer, clang) ----------------------------------------
FUZZ_TARGETS := headers proc text markdown html router json
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_SRC := $(filter-out src/cli/%,$(LIB_SRC))
$(BUILD)/fuzz/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	$(call show,CC,$< (fuzz)) clang $(CSTD) $(WARN) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(DEPFLAGS) $(INCLUDES) -Ifuzz -DRAGD_VERSION='"$(VERSION)"' -c $< -o $@

# vptr and function checks need clang's C++ UBSan runtime, which a C link
# leaves out
$(BUILD)/fuzz/obj/%.o: %.cc VERSION
	@mkdir -p $(dir $@)
	$(call show,CXX,$< (fuzz)) clang++ $(CXXSTD) $(CXXWARN) $(CXXSAN) -O1 -g $(FUZZ_SAN) -fno-sanitize=vptr,function -fsanitize=fuzzer-no-link $(DEPFLAGS) $(INCLUDES) -c $< -o $@

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/fuzz/fuzz_%.o $(call obj,$(BUILD)/fuzz,$(FUZZ_LIB_SRC)) $(ASSETS_OBJ)
	$(call show,LD,$@) clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

FUZZ_BINS := $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_TARGETS))

# --- jobs ------------------------------------------------------------------
TEST_BINS := $(BUILD)/ragd $(BUILD)/test_unit $(BUILD)/asan/test_unit $(BUILD)/asan/ragd \
             $(BUILD)/tsan/test_unit $(BUILD)/tsan/ragd $(addprefix $(BUILD)/,$(TOOLS)) \
             $(BUILD)/fake_nvml/libnvidia-ml.so.1 $(FUZZ_BINS)
test: test-deps
	@$(MAKE) --no-print-directory $(TEST_BINS)
	@tests/run

unit: $(BUILD)/test_unit $(BUILD)/fake_nvml/libnvidia-ml.so.1
	@$(BUILD)/test_unit

bench: bench-deps
	@$(MAKE) --no-print-directory $(BUILD)/bench_metrics $(BUILD)/bench_rag $(BUILD)/bench_answer $(BUILD)/ragd
	@bench/run
	@bench/http_bench
	@$(BUILD)/bench_rag | grep -v '^RESULT'
	@/usr/bin/python3 bench/ingest_bench.py $(BUILD)/ragd | grep -v '^RESULT'
	@bench/query_instructions
	@bench/answer_bench
	@echo "== retrieval quality on ragd's own evaluation set (eval/, ragd eval)"
	@$(BUILD)/ragd eval --corpus eval/corpus.jsonl --queries eval/queries.jsonl --qrels eval/qrels.tsv
	@/usr/bin/python3 bench/xapian_eval.py eval/corpus.jsonl eval/queries.jsonl eval/qrels.tsv
	@/usr/bin/python3 eval/make_node_set.py $(BUILD)/eval-node
	@for q in passages headings; do \
	    echo "== retrieval quality on Node.js's API reference, $$q queries (eval/make_node_set.py)"; \
	    $(BUILD)/ragd eval --corpus $(BUILD)/eval-node/corpus.jsonl \
	        --queries $(BUILD)/eval-node/$$q.jsonl --qrels $(BUILD)/eval-node/$$q.tsv || exit 1; \
	    /usr/bin/python3 bench/xapian_eval.py $(BUILD)/eval-node/corpus.jsonl \
	        $(BUILD)/eval-node/$$q.jsonl $(BUILD)/eval-node/$$q.tsv || exit 1; \
	done
	@/usr/bin/python3 eval/make_debref_set.py $(BUILD)/eval-debref
	@for l in en ja en-pdf ja-pdf; do for q in headings passages; do \
	    echo "== retrieval quality on the Debian Reference ($$l), $$q queries (eval/make_debref_set.py)"; \
	    $(BUILD)/ragd eval --corpus $(BUILD)/eval-debref/$$l/corpus.jsonl \
	        --queries $(BUILD)/eval-debref/$$l/$$q.jsonl --qrels $(BUILD)/eval-debref/$$l/$$q.tsv || exit 1; \
	    /usr/bin/python3 bench/xapian_eval.py $(BUILD)/eval-debref/$$l/corpus.jsonl \
	        $(BUILD)/eval-debref/$$l/$$q.jsonl $(BUILD)/eval-debref/$$l/$$q.tsv || exit 1; \
	done; done

# The vector index at a million chunks beside hnswlib and FAISS, the
# keyword index beside Xapian and FTS5, the whole server at a million
# chunks (31.3 minutes here on 2026-12-08; BENCH_SCALE_N=100000 for a quick look at
# all three, BENCH_SCALE_KW_N and BENCH_SCALE_SERVER_N to size one part).
bench-scale: bench-deps
	@$(MAKE) --no-print-directory $(BUILD)/bench_scale $(BUILD)/bench_keywords $(BUILD)/ragd
	@bench/scale

# The main job: ragd, Prometheus, Alertmanager and node-exporter on this
# machine (127.0.0.1), a sample corpus ingested; Ctrl-C stops them all.
PKG_RUN := $(PKG_BUILD) prometheus prometheus-alertmanager prometheus-node-exporter curl
run: run-deps
	@$(MAKE) --no-print-directory $(BUILD)/ragd
	@exec scripts/run-stack

# Fuzzes each target for FUZZ_SECONDS (default 60); new inputs go to
# build/fuzz/corpus/, crashes to build/fuzz/. Seeds: fuzz/corpus/.
FUZZ_SECONDS ?= 60
fuzz: test-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	    echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(BUILD)/fuzz/ \
	        $(BUILD)/fuzz/corpus/$$t fuzz/corpus/$$t >$(BUILD)/fuzz/$$t.log 2>&1 \
	        || { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
	    grep -E '^Done [0-9]+ runs' $(BUILD)/fuzz/$$t.log; \
	done

# The committed .clang-format, applied (format) or checked (format-check;
# make test runs the same check as tests/scripts/format.sh).
format:
	clang-format -i $(shell git ls-files '*.c' '*.h')
format-check:
	@tests/scripts/format.sh

# The Grafana dashboard is generated; make test checks the committed JSON is
# the generator's output.
dashboard:
	python3 monitoring/grafana/make_dashboard.py

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
