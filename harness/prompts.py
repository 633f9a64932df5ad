"""System prompts: bundled templates in ``prompts/``, process knowledge in ``skills/``.

A repo can override either: ``.harness/prompts/<name>.md`` replaces a bundled prompt and
``.harness/skills/<skill>/SKILL.md`` replaces a bundled skill.
"""

from __future__ import annotations

from pathlib import Path

from harness import frontmatter
from harness.errors import UsageError
from harness.resources import bundled


def _pick(override: Path, default: Path) -> Path:
    return override if override.is_file() else default


def system_prompt(name: str, harness_dir: Path) -> str:
    path = _pick(harness_dir / "prompts" / f"{name}.md", bundled("prompts") / f"{name}.md")
    doc = frontmatter.read(path)
    skills = doc.meta.get("skills") or []
    if not isinstance(skills, list):
        raise UsageError(f"{path}: `skills` must be a list of skill names")
    parts = [doc.body.strip()]
    for skill in skills:
        skill_path = _pick(
            harness_dir / "skills" / str(skill) / "SKILL.md", bundled("skills") / str(skill) / "SKILL.md"
        )
        if not skill_path.is_file():
            raise UsageError(f"{path}: skill {skill!r} not found", hint=f"add {skill_path} or remove it from `skills`")
        parts.append(f'<skill name="{skill}">\n{frontmatter.read(skill_path).body.strip()}\n</skill>')
    return "\n\n".join(parts)
