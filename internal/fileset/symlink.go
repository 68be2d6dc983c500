package fileset

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// maxLinkHops bounds symlink resolution so a link cycle cannot loop forever;
// it matches the kernel's own limit.
const maxLinkHops = 40

// checkAncestors refuses a match whose directory is reached through a
// symlink leading out of the project. Wildcards never follow links (the glob
// runs with WithNoFollow), but the literal part of a pattern such as
// `vendor/lib/*.so` is opened as written, so `vendor` could be a link to
// /usr. Links that stay inside the project are allowed: the files are then
// archived under the path the user wrote.
func (c *collector) checkAncestors(dir string) error {
	return c.checkDir(dir, 0)
}

func (c *collector) checkDir(dir string, hops int) error {
	if dir == "." || dir == "" {
		return nil
	}
	if err, ok := c.links[dir]; ok {
		return err
	}
	if hops > maxLinkHops {
		return fmt.Errorf("%q: too many levels of symbolic links", dir)
	}
	err := c.checkDir(path.Dir(dir), hops)
	if err == nil {
		err = c.checkComponent(dir, hops)
	}
	c.links[dir] = err
	return err
}

func (c *collector) checkComponent(p string, hops int) error {
	info, err := fs.Lstat(c.fsys, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("inspect %q: %w", p, err)
	}
	if info.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	target, err := fs.ReadLink(c.fsys, p)
	if err != nil {
		return fmt.Errorf("read symlink %q: %w", p, err)
	}
	if path.IsAbs(target) {
		return fmt.Errorf("symlink %q points to %q: %w", p, target, ErrOutsideProject)
	}
	resolved := path.Join(path.Dir(p), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("symlink %q points to %q: %w", p, target, ErrOutsideProject)
	}
	return c.checkDir(resolved, hops+1)
}
