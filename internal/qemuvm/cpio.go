package qemuvm

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Cpio writes a newc ("070701") archive, the format the kernel unpacks as
// an initramfs. Entries later in the archive replace earlier ones with the
// same name, so a tree can be written and then files laid over it.
type Cpio struct {
	w    io.Writer
	ino  int
	dirs map[string]bool
	err  error
}

// NewCpio returns a writer of a newc archive to w.
func NewCpio(w io.Writer) *Cpio {
	return &Cpio{w: w, ino: 1, dirs: map[string]bool{}}
}

// Entry writes one entry: mode holds the type bits (0o100000 file,
// 0o040000 directory, 0o120000 symlink, 0o020000 character device).
func (c *Cpio) Entry(name string, mode uint32, uid, gid int, data []byte, rmaj, rmin int) {
	if c.err != nil {
		return
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, uid, gid, 1, 0, len(data), 0, 0, rmaj, rmin, len(name)+1, 0)
	b := append([]byte(hdr), name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	if _, c.err = c.w.Write(b); c.err != nil {
		return
	}
	if _, c.err = c.w.Write(data); c.err != nil {
		return
	}
	if pad := (4 - len(data)%4) % 4; pad > 0 {
		_, c.err = c.w.Write(make([]byte, pad))
	}
}

// Dir writes a directory (mode 0755, root's) once.
func (c *Cpio) Dir(name string) {
	if !c.dirs[name] {
		c.dirs[name] = true
		c.Entry(name, 0o040755, 0, 0, nil, 0, 0)
	}
}

// MkdirAll writes name and its parents.
func (c *Cpio) MkdirAll(name string) {
	if name == "." || name == "/" || name == "" {
		return
	}
	c.MkdirAll(filepath.Dir(name))
	c.Dir(name)
}

// File writes a regular file owned by root.
func (c *Cpio) File(name string, data []byte, perm uint32) {
	c.Entry(name, 0o100000|perm, 0, 0, data, 0, 0)
}

// FileFrom writes the file at src as name.
func (c *Cpio) FileFrom(name, src string, perm uint32) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("qemuvm: initramfs: %w", err)
	}
	c.File(name, data, perm)
	return nil
}

// Symlink writes a symbolic link name -> target.
func (c *Cpio) Symlink(name, target string) {
	c.Entry(name, 0o120777, 0, 0, []byte(target), 0, 0)
}

// CharDev writes a character device node (mode 0600).
func (c *Cpio) CharDev(name string, major, minor int) {
	c.Entry(name, 0o020600, 0, 0, nil, major, minor)
}

// Tree writes the directory tree at root under prefix ("" for the archive's
// root) with the files' modes, owners and symlinks; hard links become
// copies, sockets and fifos are left out, and so is what is mounted under
// root (its mount points are written empty, like find -xdev).
func (c *Cpio) Tree(root, prefix string) error {
	rootInfo, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("qemuvm: initramfs: %w", err)
	}
	rootDev := uint64(0)
	if st, ok := rootInfo.Sys().(*syscall.Stat_t); ok {
		rootDev = uint64(st.Dev)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := filepath.ToSlash(filepath.Join(prefix, rel))
		if rel == "." {
			if prefix == "" {
				return nil
			}
			name = prefix
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		uid, gid := 0, 0
		if st != nil {
			uid, gid = int(st.Uid), int(st.Gid)
		}
		perm := uint32(info.Mode().Perm())
		if info.Mode()&fs.ModeSetuid != 0 {
			perm |= 0o4000
		}
		if info.Mode()&fs.ModeSetgid != 0 {
			perm |= 0o2000
		}
		if info.Mode()&fs.ModeSticky != 0 {
			perm |= 0o1000
		}
		switch {
		case info.IsDir():
			c.dirs[name] = true
			c.Entry(name, 0o040000|perm, uid, gid, nil, 0, 0)
			if st != nil && uint64(st.Dev) != rootDev {
				return filepath.SkipDir
			}
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			c.Entry(name, 0o120777, uid, gid, []byte(target), 0, 0)
		case info.Mode()&fs.ModeCharDevice != 0 && st != nil:
			c.Entry(name, 0o020000|perm, uid, gid, nil, int(unixMajor(st.Rdev)), int(unixMinor(st.Rdev)))
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			c.Entry(name, 0o100000|perm, uid, gid, data, 0, 0)
		}
		return c.err
	})
	if err != nil {
		return fmt.Errorf("qemuvm: initramfs from %s: %w", root, err)
	}
	return nil
}

func unixMajor(dev uint64) uint64 { return ((dev >> 8) & 0xfff) | ((dev >> 32) & ^uint64(0xfff)) }
func unixMinor(dev uint64) uint64 { return (dev & 0xff) | ((dev >> 12) & ^uint64(0xff)) }

// Close writes the trailer and returns the first error.
func (c *Cpio) Close() error {
	c.Entry("TRAILER!!!", 0, 0, 0, nil, 0, 0)
	if c.err != nil {
		return fmt.Errorf("qemuvm: initramfs: %w", c.err)
	}
	return nil
}
