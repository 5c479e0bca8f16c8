# Mining Eco — every target does its own set-up (Debian packages + venv) first.
VENV      ?= .venv
PY        := $(VENV)/bin/python
PLUGIN    := mining_eco_plugin
VERSION   := $(shell sed -n 's/^version=//p' metadata.txt)
QGIS_ENV  := QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=/tmp/runtime-$(shell id -u)
# where `make deploy` installs the plugin (QGIS 3 default profile)
QGIS_PROFILE ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default

.PHONY: setup test test-matrix qt6-check unit demo manual zip deploy bench clean

setup: $(VENV)/.setup-done

$(VENV)/.setup-done: scripts/setup.sh requirements-dev.txt
	VENV=$(VENV) bash scripts/setup.sh

# every test: core unit tests, algorithms through processing.run, qgis_process and Modeler models
test: setup
	$(QGIS_ENV) $(PY) -m pytest -rs test

# the whole suite on other QGIS versions, in Debian chroots (trixie 3.40 LTR, sid 3.44; bookworm 3.22 when the
# host is not Debian 12): one summary line per QGIS; prepared chroots are cached in /var/cache/mining-eco-matrix
test-matrix:
	bash scripts/test_matrix.sh

# QGIS's PyQt5 -> PyQt6 migration script (from Debian's QGIS 3.40 sources, fetched at run time and cached in
# /var/cache/mining-eco-qt6) over a copy of the plugin in its QGIS-3-compatible mode: fails unless it changes nothing
qt6-check: setup
	bash scripts/qt6_check.sh

# the fast core/raster tests only
unit: setup
	$(QGIS_ENV) $(PY) -m pytest test/unit

demo: setup
	$(QGIS_ENV) $(PY) scripts/demo.py demo_output

# the manual shipped in the plugin (mining_eco_plugin/docs/: one page per tool, references, index), rendered from
# the tools' metadata (parameters and their help) and the per-tool texts of scripts/manual/; run it after changing a
# tool's parameters or help (test/test_help.py fails while the committed pages differ from what it renders)
manual: setup
	$(QGIS_ENV) $(PY) scripts/build_manual.py

bench: setup
	$(QGIS_ENV) $(PY) bench/run_bench.py

# metadata.txt and resources.qrc are top-level files; the package holds relative links to them
# ($(PLUGIN)/metadata.txt -> ../metadata.txt) so that QGIS_PLUGINPATH=<checkout> finds the plugin. cp -L
# puts the real files into the zip, and no link may be left in it. The paths in resources.qrc are relative
# to the plugin folder (rcc resolves them beside the link: pyrcc5 $(PLUGIN)/resources.qrc). Nothing imports
# a compiled resources_rc.py (the provider loads icon.svg by path), so none is built or shipped.
zip: setup
	rm -rf build/zip && mkdir -p build/zip dist
	cp -rL $(PLUGIN) build/zip/
	find build/zip -name '__pycache__' -prune -exec rm -rf {} +
	rm -f build/zip/$(PLUGIN)/resources_rc.py
	cp LICENSE build/zip/$(PLUGIN)/ 2>/dev/null || true
	@if [ -n "$$(find build/zip -type l)" ]; then echo "zip: links left in build/zip" >&2; exit 1; fi
	rm -f dist/$(PLUGIN)-$(VERSION).zip
	cd build/zip && zip -qr ../../dist/$(PLUGIN)-$(VERSION).zip $(PLUGIN)
	@echo "zip: dist/$(PLUGIN)-$(VERSION).zip (QGIS: Plugins > Manage and Install > Install from ZIP)"

deploy: zip
	mkdir -p "$(QGIS_PROFILE)/python/plugins"
	rm -rf "$(QGIS_PROFILE)/python/plugins/$(PLUGIN)"
	cd "$(QGIS_PROFILE)/python/plugins" && unzip -q "$(CURDIR)/dist/$(PLUGIN)-$(VERSION).zip"
	@echo "deploy: installed into $(QGIS_PROFILE)/python/plugins/$(PLUGIN); enable it in Plugins > Manage and Install"

clean:
	rm -rf build dist demo_output bench_output .pytest_cache
